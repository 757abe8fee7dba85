// The HA smoke on the real bed with three control-plane nodes behind haproxy (testbed.sh up --control-planes 3):
// plan, pivot node by node, status, a Deployment scheduled and created by the self-hosted control plane, rollback,
// each hand-over measured from three vantage points at once: one node's own address, the load balancer (the
// kubeconfig's server) and the in-cluster prober through the kubernetes Service's ClusterIP.
// Prints the figures; asserts behaviour, never timings.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureInClusterProber, inClusterWindow } from './incluster-prober.ts';
import { formatReport, startProber, type ProbeReport } from './prober.ts';
import { agentPods, endpointGuards, KUBECONFIG, kubectl, migrateReq, ourDaemonSets, REPO, selfhost, status, steeringLeft, tryKubectl, until, type StatusDoc } from './helpers.ts';

const BED = join(REPO, 'scripts', 'testbed', 'testbed.sh');
const bed = (args: string[]) => spawnSync('bash', [BED, ...args], { encoding: 'utf8' }).stdout.trim();
const NODES = bed(['nodes']).split('\n').filter(Boolean);
/** Where the host sees a path of a node's own file system. */
const nodePath = (node: string, path: string) => bed(['path', node, path]);
/** Each node's net.ipv4.tcp_migrate_req before the suite: every run puts it back. */
const migrateBefore: Record<string, string> = {};
const CONTROL_PLANE = ['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml'];

const listed = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('.')).sort() : []);
const manifestsOn = (node: string) => listed(nodePath(node, '/etc/kubernetes/manifests'));
const backupsOn = (node: string) => listed(nodePath(node, '/etc/kubernetes/selfhost-backup'));

/** A copy of the kubeconfig that talks to the first node's apiserver directly (its address is in the certificate). */
function nodeKubeconfig(node: string): string {
  const ip = tryKubectl(['get', 'node', node, '-o', 'jsonpath={.status.addresses[?(@.type=="InternalIP")].address}'])!.trim();
  const file = join(mkdtempSync(join(tmpdir(), 'ha-e2e-')), 'kubeconfig');
  writeFileSync(file, readFileSync(KUBECONFIG, 'utf8').replace(/server: https:\/\/[^\s]+/, `server: https://${ip}:6443`), { mode: 0o600 });
  return file;
}

const figures: string[] = [];
const report = (r: ProbeReport) => {
  const line = formatReport(r);
  figures.push(line);
  console.log(`# FIGURE ${line}`);
};

/** Runs f with the three probers sending throughout (a second before and after) and reports each. */
async function probed<T>(label: string, f: () => T | Promise<T>): Promise<T> {
  await ensureInClusterProber();
  const node = startProber(nodeKubeconfig(NODES[0]!), `${label} [node address ${NODES[0]}]`);
  const lb = startProber(KUBECONFIG, `${label} [load balancer]`);
  const inside = inClusterWindow(`${label} [in-cluster, kubernetes.default.svc]`);
  await new Promise((r) => setTimeout(r, 1000));
  const value = await f();
  await new Promise((r) => setTimeout(r, 1000));
  for (const r of [await node.stop(), await lb.stop(), await inside.stop()]) report(r);
  return value;
}

function modesByNode(doc: StatusDoc): Record<string, Record<string, string>> {
  return Object.fromEntries(doc.nodes.map((n) => [n.name, Object.fromEntries(n.components.map((c) => [c.component, c.mode]))]));
}
const everyNode = (m: Record<string, string>) => Object.fromEntries(NODES.map((n) => [n, m]));

describe('HA: three control-plane nodes behind a load balancer', { timeout: 2_400_000 }, () => {
  before(() => assert.ok(NODES.length >= 3, `needs the bed with three control-plane nodes (npm run test:e2e:ha); testbed.sh nodes: ${NODES.join(' ')}`));
  before(() => { for (const n of NODES) migrateBefore[n] = migrateReq(n); });
  after(() => {
    if (figures.length > 0) console.log(`# FIGURES (HA)\n${figures.map((f) => `#   ${f}`).join('\n')}`);
  });

  it('the bed is HA: three Ready control-plane nodes, the kubeconfig names the load balancer', () => {
    assert.ok(NODES.length >= 3, `testbed.sh nodes: ${NODES.join(' ')} (run testbed.sh up --control-planes 3)`);
    assert.match(readFileSync(KUBECONFIG, 'utf8'), /server: https:\/\/10\.213\.0\.10:6443/);
    for (const n of NODES) assert.deepEqual(manifestsOn(n), CONTROL_PLANE, `${n}'s own manifest directory`);
  });

  it('plan lists every node; pivot hands them over one by one; status is healthy everywhere', async () => {
    const plan = JSON.parse(selfhost(['plan', '-o', 'json']).out) as { steps: Array<{ node?: string; description: string }> };
    for (const n of NODES) assert.ok(plan.steps.some((s) => s.description.includes(`on ${n}:`)), `plan has a hand-over on ${n}`);
    const r = await probed('pivot (HA)', () => selfhost(['pivot', '--yes']));
    assert.equal(r.code, 0, `pivot failed (${r.code}):\n${(r.out + r.err).slice(-3000)}`);
    const order = NODES.map((n) => r.out.indexOf(`[pivot/kube-apiserver] (`) >= 0 ? r.out.search(new RegExp(`\\[pivot/kube-apiserver\\] \\(\\d+/\\d+\\) on ${n}: wait until`)) : -1);
    assert.ok(order.every((i) => i > 0), `every node's apiserver hand-over ran: ${order.join(' ')}`);
    const s = status();
    assert.equal(s.code, 0, `status: ${JSON.stringify(s.doc.problems)}`);
    assert.deepEqual(modesByNode(s.doc), everyNode({ 'kube-scheduler': 'self-hosted', 'kube-controller-manager': 'self-hosted', 'kube-apiserver': 'self-hosted', etcd: 'static' }));
    for (const n of NODES) assert.deepEqual(manifestsOn(n), ['etcd.yaml', 'kubectl-selfhost-checkpointer.yaml'], `${n}'s manifest directory`);
    for (const ds of ourDaemonSets()) {
      const [desired, ready] = kubectl(['-n', 'kube-system', 'get', ds, '-o', 'jsonpath={.status.desiredNumberScheduled} {.status.numberReady}']).split(' ');
      assert.deepEqual([desired, ready], [String(NODES.length), String(NODES.length)], `${ds}: a pod on every node, all ready`);
    }
    assert.deepEqual(agentPods(), []);
    assert.deepEqual(endpointGuards(), []);
  });

  it('the self-hosted scheduler and controller-manager create and place a Deployment\'s pods', async () => {
    kubectl(['create', 'deployment', 'ha-e2e', '--image=docker.io/library/busybox:1.35.0', '--replicas=3', '--', 'sh', '-c', 'sleep 3600']);
    kubectl(['patch', 'deployment', 'ha-e2e', '--type=json', '-p', JSON.stringify([
      { op: 'add', path: '/spec/template/spec/tolerations', value: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }] },
      { op: 'add', path: '/spec/template/spec/containers/0/imagePullPolicy', value: 'Never' },
      { op: 'add', path: '/spec/template/spec/terminationGracePeriodSeconds', value: 1 }])]);
    await until('the Deployment\'s three pods to run', 180_000, () => tryKubectl(['get', 'deployment', 'ha-e2e', '-o', 'jsonpath={.status.readyReplicas}'])?.trim() === '3');
    kubectl(['delete', 'deployment', 'ha-e2e', '--wait=true']);
  });

  it('rollback returns every node to kubeadm\'s static pods and leaves nothing of the tool', async () => {
    const r = await probed('rollback (HA)', () => selfhost(['rollback', '--yes']));
    assert.equal(r.code, 0, `rollback failed (${r.code}):\n${(r.out + r.err).slice(-3000)}`);
    const s = status();
    assert.equal(s.code, 0, `status: ${JSON.stringify(s.doc.problems)}`);
    assert.deepEqual(modesByNode(s.doc), everyNode({ 'kube-scheduler': 'static', 'kube-controller-manager': 'static', 'kube-apiserver': 'static', etcd: 'static' }));
    for (const n of NODES) {
      assert.deepEqual(manifestsOn(n), CONTROL_PLANE, `${n}'s manifest directory`);
      assert.deepEqual(backupsOn(n), [], `nothing of the tool left on ${n}`);
    }
    assert.deepEqual(ourDaemonSets(), []);
    assert.deepEqual(agentPods(), []);
    assert.deepEqual(endpointGuards(), []);
    assert.equal(tryKubectl(['-n', 'kube-system', 'get', 'configmap', 'kubectl-selfhost-checkpoints']), null);
    for (const n of NODES) assert.deepEqual(steeringLeft(migrateBefore[n]!, n), [], `no steering program and no changed sysctl left on ${n}`);
  });
});
