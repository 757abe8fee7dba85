// Reboot recovery on the real bed: pivot, then three node reboots in a row with no command but waiting; each time
// the API must answer again and the node end self-hosted with the checkpoint inactive. Then rollback leaves
// nothing of the mechanism. Prints the time from each reboot to a serving API; asserts no timing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BACKUPS, backupsLeft, kubectlAsync, MANIFESTS, modes, REPO, restoreStaticControlPlane, selfhost, staticManifests, status, tryKubectl, until } from './helpers.ts';

const BED = join(REPO, 'scripts', 'testbed', 'testbed.sh');

describe('reboot recovery on the real kubeadm test bed', { concurrency: 1 }, () => {
  after(() => restoreStaticControlPlane('the reboot suite'));

  it('pivot installs the checkpointer and an inactive checkpoint that matches the DaemonSet', () => {
    const r = selfhost(['pivot', '--yes']);
    assert.equal(r.code, 0, r.out + r.err);
    assert.ok(staticManifests().includes('kubectl-selfhost-checkpointer.yaml'));
    assert.ok(existsSync(join(BACKUPS, 'kube-apiserver.checkpoint.yaml')));
    const s = status();
    assert.equal(s.code, 0, JSON.stringify(s.doc));
    const ck = (s.doc.nodes[0] as unknown as { checkpoint: { exists: boolean; active: boolean; matchesDaemonSet: boolean } }).checkpoint;
    assert.deepEqual(ck, { ...ck, exists: true, active: false, matchesDaemonSet: true });
  });

  for (const round of [1, 2, 3]) {
    it(`reboot ${round}: the API comes back by itself and the node ends self-hosted, checkpoint inactive`, async () => {
      const t0 = Date.now();
      execFileSync('bash', [BED, 'reboot', '--no-wait'], { stdio: ['ignore', 'pipe', 'pipe'] });
      await until('the API to answer after the reboot', 600_000, async () => (await kubectlAsync(['get', '--raw', '/readyz'])) === 'ok');
      const apiBack = (Date.now() - t0) / 1000;
      await until('the self-hosted apiserver to serve with the checkpoint retired', 600_000, () => {
        const s = status();
        const ck = (s.doc.nodes[0] as unknown as { checkpoint: { active: boolean } }).checkpoint;
        return s.code === 0 && !ck.active && modes(s.doc)['kube-apiserver'] === 'self-hosted' ? s : null;
      });
      const settled = (Date.now() - t0) / 1000;
      console.log(`# FIGURE reboot ${round}: API serving ${apiBack.toFixed(1)}s after the reboot began; self-hosted again with the checkpoint inactive after ${settled.toFixed(1)}s`);
      assert.deepEqual(modes(status().doc), { 'kube-scheduler': 'self-hosted', 'kube-controller-manager': 'self-hosted', 'kube-apiserver': 'self-hosted', etcd: 'static' });
      assert.equal(existsSync(join(MANIFESTS, 'kubectl-selfhost-checkpoint-kube-apiserver.yaml')), false);
    });
  }

  it('rollback removes every part of the mechanism from the node and the cluster', () => {
    const r = selfhost(['rollback', '--yes']);
    assert.equal(r.code, 0, r.out + r.err);
    assert.deepEqual(staticManifests(), ['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml']);
    assert.deepEqual(backupsLeft(), []);
    assert.equal(tryKubectl(['-n', 'kube-system', 'get', 'configmap', 'kubectl-selfhost-checkpoints']), null);
    assert.equal(tryKubectl(['-n', 'kube-system', 'get', 'pods', '-l', 'app.kubernetes.io/managed-by=kubectl-selfhost', '-o', 'name'])?.trim(), '');
    assert.equal(status().code, 0);
  });
});
