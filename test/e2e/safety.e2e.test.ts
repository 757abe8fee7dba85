// Safe from any state, on the real kubeadm test bed (issue "pivot and rollback that are safe from any state"):
// two pivots racing, an edit made through the API kept by rollback (and a downgrade refused), a reboot in the
// middle of the apiserver's hand-over and another in the middle of a rollback, the apiserver DaemonSet deleted by
// hand (the checkpoint serves, rollback brings the static apiserver back without a command on the node), and a
// scheduler DaemonSet deleted by hand before a partial rollback (its original kept in both copies). The API
// prober runs through each (the reboots included) and its figures are printed; after each, no steering program and
// no changed sysctl is left on the node (killed and rebooted runs included). The tests assert behaviour, never
// timings.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clusterCopy } from './faults/node.ts';
import { probed as probeDuring } from './prober.ts';
import {
  BACKUPS, backupsLeft, KUBECONFIG, kubectl, kubectlAsync, kubectlJson, MANIFESTS, modes, ourDaemonSets, REPO, restoreStaticControlPlane, selfhost, selfhostAsync,
  migrateReq, staticManifests, status, steeringLeft, tryKubectl, until,
} from './helpers.ts';

const BED = join(REPO, 'scripts', 'testbed', 'testbed.sh');
const NODE = 'selfhost-cp';
const FAULT = 'KUBECTL_SELFHOST_FAULT';

const probed = <T>(label: string, f: () => T | Promise<T>) => probeDuring(KUBECONFIG, label, f);

/** The node's net.ipv4.tcp_migrate_req before the suite: every run, killed and rebooted ones included, puts it back. */
let migrateBefore = '';

const healthy = () => until('status to be healthy', 600_000, () => status().code === 0);

function assertStatic(): void {
  const s = status();
  assert.equal(s.code, 0, JSON.stringify(s.doc));
  assert.deepEqual(modes(s.doc), { 'kube-scheduler': 'static', 'kube-controller-manager': 'static', 'kube-apiserver': 'static', etcd: 'static' });
  assert.deepEqual(staticManifests(), ['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml']);
  assert.deepEqual(ourDaemonSets(), []);
  assert.deepEqual(backupsLeft(), [], 'nothing of the tool left on the node');
  assert.deepEqual(steeringLeft(migrateBefore), [], 'no steering program and no changed sysctl left on the node');
}

function assertSelfHosted(): void {
  const s = status();
  assert.equal(s.code, 0, JSON.stringify(s.doc));
  assert.deepEqual(modes(s.doc), { 'kube-scheduler': 'self-hosted', 'kube-controller-manager': 'self-hosted', 'kube-apiserver': 'self-hosted', etcd: 'static' });
  assert.deepEqual(steeringLeft(migrateBefore), [], 'no steering program and no changed sysctl left on the node');
}

/** A hard reboot of the node (everything stopped, /run cleared), then wait, with no command, for the API. */
async function rebootAndWaitForApi(what: string): Promise<void> {
  const t0 = Date.now();
  await probed(`reboot ${what}, until the API answers`, async () => {
    execFileSync('bash', [BED, 'reboot', '--no-wait'], { stdio: ['ignore', 'pipe', 'pipe'] });
    await until(`the API to answer after the reboot ${what}`, 600_000, async () => (await kubectlAsync(['get', '--raw', '/readyz'])) === 'ok');
  });
  console.log(`# FIGURE reboot ${what}: the API answered ${((Date.now() - t0) / 1000).toFixed(1)}s after the reboot began, with no command run`);
}


describe('safe from any state, on the real kubeadm test bed', { concurrency: 1 }, () => {
  before(() => { migrateBefore = migrateReq(); });
  after(() => restoreStaticControlPlane('the safety suite'));

  it('two pivots started together: exactly one writes; the other exits > 1 before its first write, naming the holder', async () => {
    await healthy();
    const { value: [a, b] } = await probed('two pivots started together', () => Promise.all([selfhostAsync(['pivot', '--yes']), selfhostAsync(['pivot', '--yes'])]));
    const winner = a!.code === 0 ? a! : b!;
    const loser = winner === a ? b! : a!;
    assert.equal(winner.code, 0, winner.out + winner.err);
    assert.ok(loser.code > 1, `the other run exits > 1 (got ${loser.code}): ${loser.out}${loser.err}`);
    assert.match(loser.err, /another run holds Lease kube-system\/kubectl-selfhost \(holder \S+@\S+\/\d+/);
    assert.doesNotMatch(loser.out, /\(\d+\/\d+\)/, 'the other run started no step');
    assertSelfHosted();
  });

  it('an edit made through the API survives rollback, and --to-original refuses the downgrade it would be', async () => {
    const ds = kubectlJson<{ spec: { template: { spec: { containers: Array<{ image: string; command: string[] }> } } } }>(['-n', 'kube-system', 'get', 'daemonset', 'kube-apiserver']);
    const image = ds.spec.template.spec.containers[0]!.image;
    const newer = image.replace(/:v1\.(\d+)\.(\d+)$/, (_m, minor: string, patch: string) => `:v1.${minor}.${Number(patch) + 1}`);
    assert.notEqual(newer, image);
    // A "newer" release: the same image under the next patch tag, so the bed needs no registry.
    execFileSync('bash', [BED, 'ctr', 'images', 'tag', '--force', image, newer], { stdio: ['ignore', 'pipe', 'pipe'] });
    const patch = [
      { op: 'replace', path: '/spec/template/spec/containers/0/image', value: newer },
      { op: 'add', path: '/spec/template/spec/containers/0/command/-', value: '--v=2' },
    ];
    await probed('apiserver DaemonSet rolling update (image and a flag changed through the API)', async () => {
      kubectl(['-n', 'kube-system', 'patch', 'daemonset', 'kube-apiserver', '--type=json', '-p', JSON.stringify(patch)]);
      await until('the rollout of the edited apiserver DaemonSet', 600_000, () => {
        const st = kubectlJson<{ metadata: { generation: number }; status: { observedGeneration?: number; updatedNumberScheduled?: number; numberReady?: number; desiredNumberScheduled?: number } }>(['-n', 'kube-system', 'get', 'daemonset', 'kube-apiserver']);
        return st.status.observedGeneration === st.metadata.generation && st.status.updatedNumberScheduled === st.status.desiredNumberScheduled && st.status.numberReady === st.status.desiredNumberScheduled;
      });
    });
    const plan = selfhost(['plan', '--rollback', '--components', 'kube-apiserver']);
    assert.equal(plan.code, 1, plan.err);
    assert.match(plan.out, /^\s*\+\s+- --v=2$/m, 'plan --rollback shows the edit as a change from the original');
    const refused = selfhost(['rollback', '--yes', '--to-original']);
    assert.ok(refused.code > 1, refused.out + refused.err);
    assert.match(refused.err, new RegExp(`would downgrade kube-apiserver from ${newer.split(':').pop()!.replaceAll('.', '\\.')}.*--force`));
    assert.deepEqual(ourDaemonSets().length, 3, 'nothing was changed');
    const { value: r } = await probed('our rollback of an edited control plane', () => selfhostAsync(['rollback', '--yes']));
    assert.equal(r.code, 0, r.out + r.err);
    const manifest = readFileSync(join(MANIFESTS, 'kube-apiserver.yaml'), 'utf8');
    assert.match(manifest, /- --v=2/, 'the flag added through the API is in the static manifest');
    assert.ok(manifest.includes(`image: ${newer}`), 'the image the DaemonSet ran is the static pod\'s');
    assert.match(manifest, /--advertise-address=\d+\.\d+\.\d+\.\d+/, 'the node-neutral address made the node\'s own again');
    assertStatic();
  });

  it('a reboot in the middle of the apiserver hand-over: the API comes back by itself and pivot converges', async () => {
    const killed = selfhost(['pivot', '--yes'], 900_000, { [FAULT]: 'agent/remove/kube-apiserver.yaml/*:after:kill' });
    assert.notEqual(killed.code, 0, 'the fault hook ended the run');
    assert.match(killed.err, /fault: kill at agent\/remove\/kube-apiserver\.yaml/);
    assert.equal(staticManifests().includes('kube-apiserver.yaml'), false, 'killed right after the static manifest was removed');
    await rebootAndWaitForApi('mid-pivot (static apiserver removed, pivot not finished)');
    await until('the self-hosted apiserver to serve again', 600_000, () => modes(status().doc)['kube-apiserver'] === 'self-hosted');
    // pivot waits (within --timeout) for the node to recover, then finishes what the killed run left.
    const { value: r } = await probed('pivot resumed after the reboot', () => selfhostAsync(['pivot', '--yes']));
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /resuming run/);
    await until('the checkpoint to retire and status to be healthy', 300_000, () => status().code === 0);
    assertSelfHosted();
    assert.equal(status().doc.journal?.state, 'completed');
  });

  it('the apiserver DaemonSet deleted by hand: the checkpoint serves, and rollback brings the static apiserver back with no command on the node', async () => {
    await probed('apiserver DaemonSet deleted by hand (the checkpoint takes over)', async () => {
      kubectl(['-n', 'kube-system', 'delete', 'daemonset', 'kube-apiserver', '--wait=false']);
      await until('the checkpoint to serve', 600_000, async () => {
        const pod = await kubectlAsync(['-n', 'kube-system', 'get', 'pod', `kubectl-selfhost-checkpoint-kube-apiserver-${NODE}`, '-o', 'jsonpath={.status.containerStatuses[0].ready}']);
        return pod === 'true' && (await kubectlAsync(['get', '--raw', '/readyz'])) === 'ok';
      });
    });
    const s = status();
    assert.equal(s.code, 1, 'status is not healthy with the checkpoint serving');
    const { value: r } = await probed('our rollback with only the checkpoint serving the API', () => selfhostAsync(['rollback', '--yes']));
    assert.equal(r.code, 0, r.out + r.err);
    assertStatic();
  });

  it('a scheduler DaemonSet deleted by hand, then rollback --components kube-controller-manager: the scheduler\'s original stays in both copies and status says what to run', async () => {
    const p = selfhost(['pivot', '--yes']);
    assert.equal(p.code, 0, p.out + p.err);
    const nodeCopy = readFileSync(join(BACKUPS, 'kube-scheduler.yaml'), 'utf8');
    assert.equal(clusterCopy('kube-scheduler'), nodeCopy, 'node and cluster copies are the same original');
    kubectl(['-n', 'kube-system', 'delete', 'daemonset', 'kube-scheduler', '--wait=true']);
    await until('the scheduler DaemonSet pod to go', 300_000, () => tryKubectl(['-n', 'kube-system', 'get', 'pods', '-l', 'app.kubernetes.io/managed-by=kubectl-selfhost,component=kube-scheduler', '-o', 'name'])?.trim() === '');
    const { value: r } = await probed('rollback --components kube-controller-manager, the scheduler DaemonSet deleted by hand', () => selfhostAsync(['rollback', '--yes', '--components', 'kube-controller-manager']));
    assert.equal(r.code, 0, r.out + r.err);
    assert.equal(readFileSync(join(BACKUPS, 'kube-scheduler.yaml'), 'utf8'), nodeCopy, 'the node copy of the scheduler\'s original is kept');
    assert.equal(clusterCopy('kube-scheduler'), nodeCopy, 'the cluster copy of the scheduler\'s original is kept');
    const s = status();
    assert.equal(s.code, 1);
    assert.ok(s.doc.problems.some((x) => x.includes('rollback --components kube-scheduler')), JSON.stringify(s.doc.problems));
  });

  it('a reboot in the middle of a rollback, after the apiserver is restored: the API comes back by itself and rollback converges', async () => {
    const killed = selfhost(['rollback', '--yes'], 900_000, { [FAULT]: `restore/kube-apiserver/${NODE}:after:kill` });
    assert.notEqual(killed.code, 0);
    assert.match(killed.err, /fault: kill at restore\/kube-apiserver/);
    await rebootAndWaitForApi('mid-rollback (static apiserver restored beside the DaemonSet pod)');
    const { value: r } = await probed('rollback resumed after the reboot', () => selfhostAsync(['rollback', '--yes']));
    assert.equal(r.code, 0, r.out + r.err);
    assertStatic();
    assert.equal(tryKubectl(['get', '--raw', '/readyz']), 'ok');
  });
});
