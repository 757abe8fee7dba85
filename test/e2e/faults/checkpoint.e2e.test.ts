// A stale checkpoint on the real bed (issue "fault injection on the real bed"): the apiserver DaemonSet re-pointed
// at a re-tagged copy of its image through the API, the rollout done, no re-sync, the old tag removed from the node (ctr images rm in the node's containerd).
// status says, before any reboot, that the checkpoint could not start and what to run; after that command a hard
// reboot brings the API back by itself.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { kubectl, kubectlAsync, kubectlJson, selfhost, status, until } from '../helpers.ts';
import { assertConverged, leftovers, printTable, record } from './invariants.ts';
import { BED } from './node.ts';

const bed = (args: string[]) => execFileSync('bash', [BED, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('a stale checkpoint, on the real kubeadm test bed', { concurrency: 1 }, () => {
  after(() => {
    printTable('stale checkpoint: results');
    selfhost(['rollback', '--yes']);
  });

  it('the image the checkpoint starts removed from the node: status names the fix before a reboot; after it, a reboot recovers by itself', async () => {
    let outcome = 'failed';
    try {
      const r0 = selfhost(['rollback', '--yes']);
      assert.equal(r0.code, 0, r0.out + r0.err);
      const p = selfhost(['pivot', '--yes']);
      assert.equal(p.code, 0, p.out + p.err);
      await assertConverged('self-hosted', 'after pivot');
      const ds = kubectlJson<{ spec: { template: { spec: { containers: Array<{ image: string }> } } } }>(['-n', 'kube-system', 'get', 'daemonset', 'kube-apiserver']);
      const old = ds.spec.template.spec.containers[0]!.image;
      const retagged = `${old}-selfhost-fault-retagged`;
      bed(['ctr', 'images', 'tag', '--force', old, retagged]);
      kubectl(['-n', 'kube-system', 'set', 'image', 'daemonset/kube-apiserver', `kube-apiserver=${retagged}`]);
      await until('the rollout to the re-tagged image', 600_000, () => {
        const st = kubectlJson<{ metadata: { generation: number }; status: { observedGeneration?: number; updatedNumberScheduled?: number; numberReady?: number; desiredNumberScheduled?: number } }>(['-n', 'kube-system', 'get', 'daemonset', 'kube-apiserver']);
        return st.status.observedGeneration === st.metadata.generation && st.status.updatedNumberScheduled === st.status.desiredNumberScheduled && st.status.numberReady === st.status.desiredNumberScheduled;
      });
      // The old tag gone from the node, as image garbage collection would do it (the re-tagged name keeps the blobs).
      bed(['ctr', 'images', 'rm', old]);
      const problem = await until('status to say the checkpoint cannot start', 300_000, () => status().doc.problems.find((x) => x.includes(`starts ${old}, which is not on the node`)));
      assert.match(problem, /run "kubectl selfhost pivot" to re-sync it/);
      const fix = selfhost(['pivot', '--yes']);
      assert.equal(fix.code, 0, fix.out + fix.err);
      await assertConverged('self-hosted', 'after the re-sync');
      const t0 = Date.now();
      bed(['reboot', '--no-wait']);
      await until('the API after the reboot', 600_000, async () => (await kubectlAsync(['get', '--raw', '/readyz'])) === 'ok');
      const apiS = (Date.now() - t0) / 1000;
      await assertConverged('self-hosted', 'after the reboot');
      outcome = `status named the fix; after pivot (re-sync) the reboot recovered, API after ${apiS.toFixed(1)} s`;
    } finally {
      record({ fault: 'stale checkpoint', verb: 'status/pivot', point: 'old image removed, then reboot', outcome, apiGapS: null, listenerGapS: null, left: outcome === 'failed' ? '(not checked)' : leftovers() });
    }
  });
});
