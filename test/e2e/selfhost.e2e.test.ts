// pivot, status and rollback on the real kubeadm test bed, with the API prober running during every hand-over,
// a kubeadm-style hand-over measured in the same run for comparison, and a SIGKILLed pivot rolled back.
// Prints the figures; asserts behaviour, never timings.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dump, loadAll } from 'js-yaml';
import { probed as probeDuring } from './prober.ts';
import {
  agentPods, backupsLeft, endpointGuards, KUBECONFIG, kubectl, kubectlAsync, MANIFESTS, modes, ourDaemonSets, selfhost, selfhostAsync, selfhostBackground,
  restoreStaticControlPlane, staticManifests, status, tryKubectl, until, untilOutput, migrateReq, steeringLeft,
} from './helpers.ts';

/** The node's net.ipv4.tcp_migrate_req before the suite: every run puts it back. */
let migrateBefore = '';

const figures: string[] = [];
const report = (line: string) => {
  figures.push(line);
  console.log(`# FIGURE ${line}`);
};

const probed = <T>(label: string, f: () => T | Promise<T>) => probeDuring(KUBECONFIG, label, f, report);

function assertStaticControlPlane(): void {
  const s = status();
  assert.deepEqual(modes(s.doc), { 'kube-scheduler': 'static', 'kube-controller-manager': 'static', 'kube-apiserver': 'static', etcd: 'static' }, JSON.stringify(s.doc.nodes));
  assert.deepEqual(staticManifests(), ['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml']);
  assert.deepEqual(ourDaemonSets(), []);
  assert.deepEqual(agentPods(), []);
  assert.deepEqual(endpointGuards(), [], 'the endpoint guard is gone');
  assert.deepEqual(backupsLeft(), [], 'nothing of the tool left on the node');
  assert.equal(tryKubectl(['-n', 'kube-system', 'get', 'configmap', 'kubectl-selfhost-checkpoints']), null);
  assert.deepEqual(steeringLeft(migrateBefore), [], 'no steering program and no changed sysctl left on the node');
}

function assertSelfHosted(): void {
  const s = status();
  assert.equal(s.code, 0, `status exit code; problems: ${JSON.stringify(s.doc)}`);
  assert.equal(s.doc.summary, 'healthy');
  assert.deepEqual(modes(s.doc), { 'kube-scheduler': 'self-hosted', 'kube-controller-manager': 'self-hosted', 'kube-apiserver': 'self-hosted', etcd: 'static' });
  assert.deepEqual(staticManifests(), ['etcd.yaml', 'kubectl-selfhost-checkpointer.yaml'], 'no static control-plane manifests left; the checkpointer for reboot recovery');
  assert.deepEqual(agentPods(), []);
  assert.deepEqual(endpointGuards(), [], 'the endpoint guard is gone');
  assert.deepEqual(steeringLeft(migrateBefore), [], 'no steering program and no changed sysctl left on the node');
}

/** Starts a pivot and SIGKILLs it once the journal shows the apiserver's hand-over under way. */
async function killDuringApiserverHandover(): Promise<void> {
  await until('the control plane to be healthy before the run', 300_000, () => status().code === 0);
  const run = selfhostBackground(['pivot', '--yes', '--timeout', '5m']);
  await untilOutput(run, 'the pivot to start the apiserver hand-over', 600_000, /\[pivot\/kube-apiserver\] \(\d+\/\d+\) on [^:]+: wait until the DaemonSet pod serves/);
  await new Promise((r) => setTimeout(r, 3000));
  run.child.kill('SIGKILL');
  await run.exited;
  console.log(`# killed pivot (pid ${run.child.pid}) during the apiserver hand-over; its last lines:\n${run.out().trim().split('\n').slice(-3).map((l) => `#   ${l}`).join('\n')}`);
}

describe('kubectl selfhost on the real kubeadm test bed', { concurrency: 1 }, () => {
  before(() => { migrateBefore = migrateReq(); });
  after(() => restoreStaticControlPlane('the selfhost suite'));

  it('plan reads the live cluster: context first, three components to pivot, exit 1', () => {
    const r = selfhost(['plan']);
    assert.equal(r.code, 1, r.err);
    assert.match(r.out.split('\n')[0]!, /^Context: \S+ \(https:\/\/[\d.]+:6443\)$/);
    const plan = JSON.parse(selfhost(['plan', '-o', 'json']).out);
    assert.deepEqual(plan.components.map((c: { component: string; action: string }) => `${c.component}:${c.action}`), ['kube-scheduler:pivot', 'kube-controller-manager:pivot', 'kube-apiserver:pivot']);
    assertStaticControlPlane();
  });

  it('pivot hands the control plane to DaemonSets; status shows it; the self-hosted scheduler and controller-manager work', async () => {
    const { value: r } = await probed('our pivot (static -> DaemonSets, all three)', () => selfhostAsync(['pivot', '--yes']));
    assert.equal(r.code, 0, r.out + r.err);
    report(`pivot wall time: ${(r.ms / 1000).toFixed(1)}s`);
    assertSelfHosted();
    assert.deepEqual(ourDaemonSets().sort(), ['daemonset.apps/kube-apiserver', 'daemonset.apps/kube-controller-manager', 'daemonset.apps/kube-scheduler']);
    kubectl(['create', 'deployment', 'e2e-after-pivot', '--image=docker.io/library/busybox:1.35.0', '--', 'sleep', '3600']);
    kubectl(['patch', 'deployment', 'e2e-after-pivot', '--type=json', '-p', '[{"op":"add","path":"/spec/template/spec/tolerations","value":[{"operator":"Exists"}]}]']);
    await until('a ReplicaSet from the self-hosted controller-manager', 120_000, () => tryKubectl(['get', 'rs', '-l', 'app=e2e-after-pivot', '-o', 'name'])?.trim());
    await until('the pod bound to the node by the self-hosted scheduler', 120_000, () => tryKubectl(['get', 'pods', '-l', 'app=e2e-after-pivot', '-o', 'jsonpath={.items[*].spec.nodeName}'])?.trim());
    kubectl(['delete', 'deployment', 'e2e-after-pivot', '--wait=false']);
    const again = selfhost(['pivot', '--yes']);
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /Nothing to do/);
  });

  it('rollback returns to static pods: no DaemonSet, no agent pod, no backup left', async () => {
    const { value: r } = await probed('our rollback (DaemonSets -> static, all three)', () => selfhostAsync(['rollback', '--yes']));
    assert.equal(r.code, 0, r.out + r.err);
    report(`rollback wall time: ${(r.ms / 1000).toFixed(1)}s`);
    assertStaticControlPlane();
    assert.equal(status().code, 0);
    assert.equal(tryKubectl(['-n', 'kube-system', 'get', 'configmap', 'kubectl-selfhost-backup-selfhost-cp']), null);
  });

  it('pivot again (the static pods now share their port: the hand-over alone) and rollback again', async () => {
    const { value: p } = await probed('our pivot again (static pods already share the port: hand-over only)', () => selfhostAsync(['pivot', '--yes']));
    assert.equal(p.code, 0, p.out + p.err);
    assert.doesNotMatch(p.out, /add --permit-port-sharing/, 'no restart needed the second time');
    report(`second pivot wall time: ${(p.ms / 1000).toFixed(1)}s`);
    assertSelfHosted();
    const { value: r } = await probed('our rollback again', () => selfhostAsync(['rollback', '--yes']));
    assert.equal(r.code, 0, r.out + r.err);
    report(`second rollback wall time: ${(r.ms / 1000).toFixed(1)}s`);
    assertStaticControlPlane();
  });

  it('a kubeadm-style hand-over of the apiserver (no port sharing) measured for comparison', async () => {
    const docs = loadAll(selfhost(['plan', '-o', 'yaml', '--components', 'kube-apiserver']).out) as Array<{ metadata: { name: string; labels: Record<string, string> }; spec: { selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: { nodeSelector?: Record<string, string>; containers: Array<{ command: string[] }> } } } }>;
    const ds = docs[0]!;
    // What kubeadm's pivot created: the same pod spec without SO_REUSEPORT, under its own name and labels.
    ds.metadata.name = 'kubeadm-style-apiserver';
    const labels = { 'k8s-app': 'kubeadm-style-apiserver' };
    ds.metadata.labels = labels;
    ds.spec.selector.matchLabels = labels;
    ds.spec.template.metadata.labels = { ...labels, component: 'kube-apiserver-kubeadm-style' };
    ds.spec.template.spec.containers[0]!.command = ds.spec.template.spec.containers[0]!.command.filter((a) => !a.startsWith('--permit-port-sharing'));
    // kubeadm's DaemonSets selected every control-plane node; ours also need the node gate's label, which only pivot sets.
    ds.spec.template.spec.nodeSelector = Object.fromEntries(Object.entries(ds.spec.template.spec.nodeSelector ?? {}).filter(([k]) => !k.startsWith('kubectl-selfhost.dev/self-hosted-')));
    assert.deepEqual(ds.spec.template.spec.nodeSelector, { 'node-role.kubernetes.io/control-plane': '' });
    const dir = mkdtempSync(join(tmpdir(), 'kubeadm-style-'));
    writeFileSync(join(dir, 'ds.yaml'), dump(ds));
    const saved = join(dir, 'kube-apiserver.yaml');
    copyFileSync(join(MANIFESTS, 'kube-apiserver.yaml'), saved);
    kubectl(['apply', '-f', join(dir, 'ds.yaml')]);
    // kubeadm waited for the DaemonSet pod to be Running (it crash-loops on the port, yet shows Running at times).
    await until('the kubeadm-style DaemonSet pod to show Running', 180_000, () => tryKubectl(['-n', 'kube-system', 'get', 'pods', '-l', 'k8s-app=kubeadm-style-apiserver', '-o', 'jsonpath={.items[*].status.phase}'])?.includes('Running'));
    const t0 = Date.now();
    await probed('kubeadm-style hand-over (remove the static manifest, the DaemonSet pod takes the port)', async () => {
      renameSync(join(MANIFESTS, 'kube-apiserver.yaml'), join(dir, 'removed.yaml'));
      await until('the API to answer from the DaemonSet pod', 600_000, async () => (await kubectlAsync(['get', '--raw', '/readyz'])) === 'ok');
      await until('the DaemonSet pod to be ready', 600_000, async () => (await kubectlAsync(['-n', 'kube-system', 'get', 'pods', '-l', 'k8s-app=kubeadm-style-apiserver', '-o', 'jsonpath={.items[*].status.containerStatuses[*].ready}']))?.includes('true'));
    });
    report(`kubeadm-style apiserver hand-over wall time: ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    // Back as it was: the static manifest first (it waits for the port), then the DaemonSet goes.
    copyFileSync(saved, join(MANIFESTS, 'kube-apiserver.yaml'));
    kubectl(['-n', 'kube-system', 'delete', 'daemonset', 'kubeadm-style-apiserver', '--wait=false']);
    await until('the static apiserver to serve again', 600_000, () => tryKubectl(['-n', 'kube-system', 'get', 'pod', 'kube-apiserver-selfhost-cp', '-o', 'jsonpath={.status.containerStatuses[0].ready}']) === 'true' && tryKubectl(['get', '--raw', '/readyz']) === 'ok');
    await until('the kubeadm-style pod to go', 300_000, () => tryKubectl(['-n', 'kube-system', 'get', 'pods', '-l', 'k8s-app=kubeadm-style-apiserver', '-o', 'name'])?.trim() === '');
    assertStaticControlPlane();
  });

  // Resuming a killed pivot (the same verb) is the safety suite's case (killed there, rebooted, pivot again) and the
  // fault matrix's (npm run test:e2e:faults); this one takes a killed pivot back with the opposite verb.
  it('a pivot SIGKILLed during the apiserver hand-over: status and plan say where it stopped, and rollback undoes it, steering included', async () => {
    await killDuringApiserverHandover();
    const mid = status();
    assert.equal(mid.code, 1, 'status is non-zero mid-way');
    assert.equal(mid.doc.journal?.operation, 'pivot');
    assert.equal(mid.doc.journal?.state, 'in-progress');
    // plan reads the apiserver from its mirror pod, pivot wrote the DaemonSet from the file: one template, one hash.
    const midPlan = JSON.parse(selfhost(['plan', '-o', 'json', '--components', 'kube-apiserver']).out);
    assert.equal(midPlan.components[0].daemonSetExists, 'same', 'the live plan keeps the DaemonSet the killed pivot applied');
    const r = selfhost(['rollback', '--yes']);
    assert.equal(r.code, 0, r.out + r.err);
    assertStaticControlPlane();
    const s = status();
    assert.equal(s.code, 0, JSON.stringify(s.doc));
    assert.equal(s.doc.journal?.operation, 'rollback');
    assert.equal(s.doc.journal?.state, 'completed');
    assert.equal(readFileSync(join(MANIFESTS, 'kube-apiserver.yaml'), 'utf8').includes('kube-apiserver'), true);
    assert.equal(tryKubectl(['get', '--raw', '/readyz']), 'ok');
  });

  it('prints the figures', () => {
    console.log(`# FIGURES\n${figures.map((f) => `#   ${f}`).join('\n')}`);
    assert.ok(figures.length >= 3);
  });
});
