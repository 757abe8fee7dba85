import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PIVOT_ORDER } from '../../src/core/components.ts';
import { buildPlan, planExitCode } from '../../src/core/plan.ts';
import type { NodeSnapshot, Snapshot } from '../../src/core/snapshot.ts';
import { toDaemonSet } from '../../src/core/transform/daemonset.ts';
import { readManifestsDir, readStaticPod } from '../../src/sources/manifests-dir.ts';
import { assertGolden, FIXTURES, REPO } from './helpers.ts';
import { gateLabel } from '../../src/core/labels.ts';
import { readFileSync } from 'node:fs';
import type { Json } from '../../src/core/k8s-types.ts';
import { parseAll, toYaml } from '../../src/core/yaml.ts';
import { parseStaticPod } from '../../src/sources/manifests-dir.ts';

const NOW = new Date('2026-01-02T03:04:05Z');
const dir = join(FIXTURES, 'kubeadm', 'v1.34.4');

function clusterSnapshot(nodes: NodeSnapshot[], extra: Partial<Snapshot> = {}): Snapshot {
  return { source: { kind: 'cluster', context: 'test', server: 'https://10.0.0.1:6443' }, nodes, daemonSets: {}, journal: null, ...extra };
}
const staticNode = (name: string): NodeSnapshot => ({ ...readManifestsDir(dir).nodes[0]!, name, ready: true, staticPodPath: '/etc/kubernetes/manifests' });

describe('buildPlan', () => {
  it('plan JSON for kubeadm v1.34.4 matches its golden file', () => {
    const plan = buildPlan(readManifestsDir(dir), { components: [...PIVOT_ORDER] }, NOW);
    assertGolden('v1.34.4/plan.json', JSON.stringify(plan, null, 2).replaceAll(REPO, '<repo>') + '\n');
  });

  it('orders components scheduler, controller-manager, apiserver and steps backup -> port sharing -> node gate -> DaemonSet -> hand-over', () => {
    const plan = buildPlan(readManifestsDir(dir), { components: [...PIVOT_ORDER] }, NOW);
    assert.deepEqual(plan.components.map((c) => c.component), ['kube-scheduler', 'kube-controller-manager', 'kube-apiserver']);
    assert.deepEqual(plan.steps.filter((s) => s.component === 'kube-apiserver').map((s) => s.action), ['backup', 'enable-port-sharing', 'guard-endpoints', 'gate', 'apply-daemonset', 'checkpoint', 'handover', 'guard-endpoints']);
    assert.equal(planExitCode(plan), 1);
  });

  it('the hand-over proof and the checkpointer look where the apiserver serves: the manifest\'s --secure-port', () => {
    const plan = buildPlan(readManifestsDir(join(FIXTURES, 'corpus', 'secure-port-8443-v1.32')), { components: ['kube-apiserver'] }, NOW);
    const ports = plan.steps.flatMap((s) => ('port' in s ? [`${s.action}:${s.port}`] : []));
    assert.ok(ports.length >= 2, JSON.stringify(plan.steps.map((s) => s.id)));
    assert.ok(ports.every((p) => p.endsWith(':8443')), ports.join(' '));
  });

  it('the node gate: a node that joined after the pivot is labelled before the hand-over, the others are not touched, and the plan names it', () => {
    const gates = Object.fromEntries(PIVOT_ORDER.map((c) => [gateLabel(c), 'true']));
    const hosted = (name: string): NodeSnapshot => ({ ...staticNode(name), labels: { 'node-role.kubernetes.io/control-plane': '', ...gates }, staticPods: staticNode(name).staticPods.filter((s) => s.recognition.kind === 'etcd'), daemonPods: PIVOT_ORDER.map((component) => ({ component, name: `${component}-${name}`, ready: true, restarts: 0 })) });
    const joined: NodeSnapshot = { ...staticNode('cp-3'), labels: { 'node-role.kubernetes.io/control-plane': '' } };
    const daemonSets = Object.fromEntries(PIVOT_ORDER.map((c) => [c, toDaemonSet(c, readStaticPod(dir, `${c}.yaml`).pod)]));
    const plan = buildPlan(clusterSnapshot([hosted('cp-1'), hosted('cp-2'), joined], { daemonSets }), { components: [...PIVOT_ORDER] }, NOW);
    const scheduler = plan.steps.filter((s) => s.component === 'kube-scheduler').map((s) => s.id);
    assert.deepEqual(scheduler, ['backup/kube-scheduler/cp-3', 'port-sharing/kube-scheduler/cp-3', 'gate/kube-scheduler/cp-3', 'daemonset/kube-scheduler', 'handover/kube-scheduler/cp-3']);
    assert.equal(plan.steps.some((s) => s.action === 'gate' && s.node !== 'cp-3'), false, 'the labelled nodes are left alone');
    assert.match(plan.warnings.find((w) => w.code === 'NotHandedOver' && w.message.includes('kube-apiserver'))!.message, /cp-3 runs kube-apiserver as a static pod while its DaemonSet runs it on cp-1, cp-2 .*kubectl-selfhost\.dev\/self-hosted-kube-apiserver=true: this pivot hands kube-apiserver over there/);
    // A DaemonSet made before the gate (its nodes unlabelled): they are labelled too, before the gated DaemonSet replaces it.
    const old = (name: string): NodeSnapshot => ({ ...hosted(name), labels: { 'node-role.kubernetes.io/control-plane': '' } });
    const upgrade = buildPlan(clusterSnapshot([old('cp-1'), joined], { daemonSets }), { components: ['kube-scheduler'] }, NOW);
    assert.deepEqual(upgrade.steps.map((s) => s.id), ['backup/kube-scheduler/cp-3', 'port-sharing/kube-scheduler/cp-3', 'gate/kube-scheduler/cp-1', 'gate/kube-scheduler/cp-3', 'daemonset/kube-scheduler', 'handover/kube-scheduler/cp-3']);
    assert.match(upgrade.steps.find((s) => s.id === 'gate/kube-scheduler/cp-1')!.description, /made without the node gate/);
    // Such a DaemonSet is named, with the way to add the gate now; a gated one is not.
    const ungated = structuredClone(daemonSets['kube-scheduler']!);
    delete ungated.spec.template.spec.nodeSelector![gateLabel('kube-scheduler')];
    const old1 = buildPlan(clusterSnapshot([old('cp-1')], { daemonSets: { ...daemonSets, 'kube-scheduler': ungated } }), { components: [...PIVOT_ORDER] }, NOW);
    assert.deepEqual(old1.warnings.filter((w) => w.code === 'NoNodeGate').map((w) => w.message.split(' has ')[0]), ['DaemonSet kube-system/kube-scheduler']);
    assert.match(old1.warnings.find((w) => w.code === 'NoNodeGate')!.message, /run "kubectl selfhost rollback --components kube-scheduler", then "kubectl selfhost pivot --components kube-scheduler"/);
  });

  it('--components selects a subset', () => {
    const plan = buildPlan(readManifestsDir(dir), { components: ['kube-scheduler'] }, NOW);
    assert.deepEqual([...new Set(plan.steps.map((s) => s.component))], ['kube-scheduler']);
  });

  it('skips the port-sharing restart when the static pod already has the flag', () => {
    const snap = readManifestsDir(dir);
    for (const s of snap.nodes[0]!.staticPods) s.pod.spec.containers[0]!.command!.push('--permit-port-sharing=true');
    const plan = buildPlan(snap, { components: ['kube-apiserver'] }, NOW);
    assert.equal(plan.steps.some((s) => s.action === 'enable-port-sharing'), false);
    assert.equal(plan.warnings.some((w) => w.code === 'NoPortSharing'), false);
  });

  it('plans nothing (exit 0) when every component is already self-hosted', () => {
    const node: NodeSnapshot = {
      name: 'cp-1', staticPodPath: '/etc/kubernetes/manifests', ready: true,
      staticPods: readManifestsDir(dir).nodes[0]!.staticPods.filter((s) => s.recognition.kind === 'etcd'),
      daemonPods: PIVOT_ORDER.map((component) => ({ component, name: `${component}-x`, ready: true, restarts: 0 })),
      checkpoint: { recordedGeneration: 1, active: false, checkpointer: true },
    };
    const apiserverDs = toDaemonSet('kube-apiserver', readStaticPod(dir, 'kube-apiserver.yaml').pod);
    apiserverDs.metadata['generation'] = 1;
    const plan = buildPlan(clusterSnapshot([node], { daemonSets: { 'kube-apiserver': apiserverDs } }), { components: [...PIVOT_ORDER] }, NOW);
    assert.deepEqual(plan.components.map((c) => c.action), ['skip', 'skip', 'skip']);
    assert.equal(planExitCode(plan), 0);
    assert.equal(planExitCode({ steps: [], components: [{ action: 'blocked' }] }), 5, 'blocked: pivot would refuse');
    assert.deepEqual(plan.nodes[0]!.components.map((c) => c.mode), ['self-hosted', 'self-hosted', 'self-hosted']);
    // The apiserver DaemonSet edited since its checkpoint was written: pivot re-syncs the checkpoint.
    apiserverDs.metadata['generation'] = 2;
    const edited = buildPlan(clusterSnapshot([node], { daemonSets: { 'kube-apiserver': apiserverDs } }), { components: [...PIVOT_ORDER] }, NOW);
    assert.deepEqual(edited.steps.map((s) => s.id), ['checkpoint/kube-apiserver/cp-1']);
    // An endpoint guard a killed run left (its journal gone): removed, though nothing else is to do.
    apiserverDs.metadata['generation'] = 1;
    const guarded = buildPlan(clusterSnapshot([node], { daemonSets: { 'kube-apiserver': apiserverDs }, endpointGuard: true }), { components: [...PIVOT_ORDER] }, NOW);
    assert.deepEqual(guarded.steps.map((s) => s.id), ['unguard/kube-apiserver']);
    assert.deepEqual(buildPlan(clusterSnapshot([node], { daemonSets: { 'kube-apiserver': apiserverDs }, endpointGuard: true }), { components: ['kube-scheduler'] }, NOW).steps, [], 'only where the apiserver is among the components');
  });

  it('hands over every node with a static pod, and blocks a component missing on a node', () => {
    const missing: NodeSnapshot = { ...staticNode('cp-3'), staticPods: staticNode('cp-3').staticPods.filter((s) => s.pod.metadata.labels?.['component'] !== 'kube-scheduler') };
    const plan = buildPlan(clusterSnapshot([staticNode('cp-2'), staticNode('cp-1'), missing]), { components: [...PIVOT_ORDER] }, NOW);
    const apiserver = plan.components.find((c) => c.component === 'kube-apiserver')!;
    assert.deepEqual(apiserver.nodes, ['cp-1', 'cp-2', 'cp-3']);
    assert.equal(plan.steps.filter((s) => s.id.startsWith('handover/kube-apiserver/')).length, 3);
    const scheduler = plan.components.find((c) => c.component === 'kube-scheduler')!;
    assert.equal(scheduler.action, 'blocked');
    assert.ok(plan.warnings.some((w) => w.code === 'ComponentMissing' && w.message.includes('cp-3')));
  });

  it('is pure: the same snapshot and time give the same plan', () => {
    const s = readManifestsDir(dir);
    assert.deepEqual(buildPlan(s, { components: [...PIVOT_ORDER] }, NOW), buildPlan(s, { components: [...PIVOT_ORDER] }, NOW));
  });
});

// A control plane of several nodes, each running real kubeadm output (test/fixtures/kubeadm), as a node's manifest
// directory: kubeadm writes the same manifests on every control-plane node but for the node's own address, unless
// a node was given its own patches, or is at another version mid-upgrade.
const MANIFESTS = ['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml'];
function kubeadmNode(name: string, version: string, change: (file: string, text: string) => string = (_f, t) => t): NodeSnapshot {
  const from = join(FIXTURES, 'kubeadm', version);
  const staticPods = MANIFESTS.map((f) => ({ ...parseStaticPod(change(f, readFileSync(join(from, f), 'utf8')), f, `${name}:/etc/kubernetes/manifests/${f}`), ready: true, restarts: 0 }));
  return { name, staticPodPath: '/etc/kubernetes/manifests', ready: true, staticPods, daemonPods: [] };
}
/** kubeadm's manifests for a node that advertises another address (the fixtures' node advertises 10.213.0.2). */
const atAddress = (address: string) => (_f: string, text: string) => text.replaceAll('10.213.0.2', address);

// kubeadm's per-node patches (--patches DIR, or patches.directory in its Init-, Join- or UpgradeConfiguration): files
// named target[suffix][+patchtype].extension, the patch types those of "kubectl patch" (strategic by default, merge,
// json). Source: https://kubernetes.io/docs/setup/production-environment/tools/kubeadm/control-plane-flags/#patches
// and the --patches flag of "kubeadm init phase control-plane" (kubeadm reference). kubeadm applies them to the Pod
// it generated, before it writes the manifest; so does `patched` here, for the two kinds below.
type JsonPatch = Array<{ op: 'add' | 'replace'; path: string; value: Json }>;
function applyJsonPatch(doc: Json, ops: JsonPatch): Json {
  for (const { op, path, value } of ops) {
    const keys = path.split('/').slice(1);
    const last = keys.pop()!;
    const parent = keys.reduce((o, k) => (o as Record<string, Json>)[k]!, doc) as Record<string, Json> | Json[];
    if (Array.isArray(parent) && op === 'add') parent.splice(last === '-' ? parent.length : Number(last), 0, value);
    else (parent as Record<string, Json>)[last] = value;
  }
  return doc;
}
/** A strategic merge patch of a Pod: objects merged, containers merged by name (their patch strategy). */
function strategicMerge(doc: Json, patch: Json, key?: string): Json {
  if (key === 'containers' && Array.isArray(doc) && Array.isArray(patch)) {
    return doc.map((c) => {
      const p = patch.find((x) => (x as Record<string, Json>)['name'] === (c as Record<string, Json>)['name']);
      return p === undefined ? c : strategicMerge(c, p);
    });
  }
  if (doc === null || patch === null || typeof doc !== 'object' || typeof patch !== 'object' || Array.isArray(doc) || Array.isArray(patch)) return patch;
  const out: Record<string, Json> = { ...doc };
  for (const [k, v] of Object.entries(patch)) out[k] = k in out ? strategicMerge(out[k]!, v, k) : v;
  return out;
}
const patched = (target: string, apply: (pod: Json) => Json) => (file: string, text: string) =>
  file === `${target}.yaml` ? toYaml(apply(parseAll(text)[0] as Json)) : text;

describe('buildPlan: static manifests that differ between the nodes', () => {
  const PATCHES = [
    {
      // /etc/kubernetes/patches/kube-apiserver0+json.yaml on cp-2 only.
      name: 'a JSON patch given to kubeadm on one node only (a flag added)',
      change: patched('kube-apiserver', (pod) => applyJsonPatch(pod, [{ op: 'add', path: '/spec/containers/0/command/-', value: '--max-requests-inflight=800' }])),
      reason: 'cp-1 and cp-2 have different kube-apiserver manifests beyond the node address: --max-requests-inflight=800 on cp-2 only; one DaemonSet runs the same pod on every node, so make /etc/kubernetes/manifests/kube-apiserver.yaml the same on every node (apply the same kubeadm patch on each, or edit the file on the node), or leave kube-apiserver out with --components, then plan again',
    },
    {
      // /etc/kubernetes/patches/kube-apiserver1.yaml (strategic, the default) on cp-2 only.
      name: 'a strategic merge patch given to kubeadm on one node only (the CPU request)',
      change: patched('kube-apiserver', (pod) => strategicMerge(pod, { spec: { containers: [{ name: 'kube-apiserver', resources: { requests: { cpu: '500m' } } }] } })),
      reason: /^cp-1 and cp-2 have different kube-apiserver manifests beyond the node address: its pod spec \(spec\.containers\[0\]\.resources\); .*apply the same kubeadm patch on each/,
    },
  ];
  for (const { name, change, reason } of PATCHES) {
    it(`refuses the component (exit 5) with one line naming the nodes and what differs: ${name}`, () => {
      const nodes = [kubeadmNode('cp-2', 'v1.34.4', (f, t) => change(f, atAddress('10.213.0.3')(f, t))), kubeadmNode('cp-1', 'v1.34.4')];
      const plan = buildPlan(clusterSnapshot(nodes), { components: [...PIVOT_ORDER] }, NOW);
      const apiserver = plan.components.find((c) => c.component === 'kube-apiserver')!;
      assert.equal(apiserver.action, 'blocked');
      if (typeof reason === 'string') assert.equal(apiserver.reason, reason);
      else assert.match(apiserver.reason, reason);
      assert.equal(planExitCode(plan), 5);
      assert.equal(plan.steps.some((s) => s.component === 'kube-apiserver'), false, 'nothing planned for it');
      // The other components, the same on both nodes, are planned as before.
      assert.deepEqual(plan.components.filter((c) => c.component !== 'kube-apiserver').map((c) => c.action), ['pivot', 'pivot']);
      assert.ok(plan.steps.some((s) => s.id === 'handover/kube-scheduler/cp-2'));
    });
  }

  it('a node mid-upgrade (kubeadm v1.33.6 on cp-1, v1.34.4 on cp-2): every component refused, naming the images and kubeadm upgrade', () => {
    const plan = buildPlan(clusterSnapshot([kubeadmNode('cp-1', 'v1.33.6'), kubeadmNode('cp-2', 'v1.34.4', atAddress('10.213.0.3'))]), { components: [...PIVOT_ORDER] }, NOW);
    assert.deepEqual(plan.components.map((c) => c.action), ['blocked', 'blocked', 'blocked']);
    assert.equal(planExitCode(plan), 5);
    const apiserver = plan.components.find((c) => c.component === 'kube-apiserver')!;
    assert.equal(apiserver.reason, 'cp-1 and cp-2 have different kube-apiserver manifests beyond the node address: image registry.k8s.io/kube-apiserver:v1.33.6 on cp-1, ...:v1.34.4 on cp-2; one DaemonSet runs the same pod on every node, so finish "kubeadm upgrade" on every control-plane node ("kubeadm upgrade node" on each one not yet upgraded), or leave kube-apiserver out with --components, then plan again');
    assert.match(plan.components[0]!.reason, /image registry\.k8s\.io\/kube-scheduler:v1\.33\.6 on cp-1, \.\.\.:v1\.34\.4 on cp-2/);
    assert.deepEqual(plan.steps, []);
  });

  it('names every node that differs from the first', () => {
    const v4 = patched('kube-scheduler', (pod) => applyJsonPatch(pod, [{ op: 'add', path: '/spec/containers/0/command/-', value: '--v=4' }]));
    const plan = buildPlan(clusterSnapshot([kubeadmNode('cp-1', 'v1.34.4'), kubeadmNode('cp-2', 'v1.34.4', v4), kubeadmNode('cp-3', 'v1.34.4', v4)]), { components: ['kube-scheduler'] }, NOW);
    assert.match(plan.components[0]!.reason, /^cp-1 and cp-2 have different kube-scheduler manifests beyond the node address: --v=4 on cp-2 only \(cp-3 differs from cp-1 too\); /);
  });

  it('nodes that differ only by their own address are one template: planned, and an unchanged DaemonSet recognised', () => {
    const existing = toDaemonSet('kube-apiserver', readStaticPod(dir, 'kube-apiserver.yaml').pod);
    const nodes = [kubeadmNode('cp-1', 'v1.34.4'), kubeadmNode('cp-2', 'v1.34.4', atAddress('10.213.0.3')), kubeadmNode('cp-3', 'v1.34.4', atAddress('10.213.0.4'))];
    const plan = buildPlan(clusterSnapshot(nodes, { daemonSets: { 'kube-apiserver': existing } }), { components: [...PIVOT_ORDER] }, NOW);
    assert.deepEqual(plan.components.map((c) => c.action), ['pivot', 'pivot', 'pivot']);
    assert.equal(planExitCode(plan), 1);
    assert.deepEqual(plan.components.find((c) => c.component === 'kube-apiserver')!.nodes, ['cp-1', 'cp-2', 'cp-3']);
    assert.equal(plan.components.find((c) => c.component === 'kube-apiserver')!.daemonSetExists, 'same');
  });

  it('compares only the nodes still static: a node handed over earlier, at another version, is not compared', () => {
    const hosted: NodeSnapshot = { ...kubeadmNode('cp-1', 'v1.33.6'), staticPods: [], daemonPods: [{ component: 'kube-apiserver', name: 'kube-apiserver-cp-1', ready: true, restarts: 0 }] };
    const existing = toDaemonSet('kube-apiserver', readStaticPod(join(FIXTURES, 'kubeadm', 'v1.33.6'), 'kube-apiserver.yaml').pod);
    const nodes = [hosted, kubeadmNode('cp-2', 'v1.34.4', atAddress('10.213.0.3')), kubeadmNode('cp-3', 'v1.34.4', atAddress('10.213.0.4'))];
    const plan = buildPlan(clusterSnapshot(nodes, { daemonSets: { 'kube-apiserver': existing } }), { components: ['kube-apiserver'] }, NOW);
    assert.equal(plan.components[0]!.action, 'pivot');
    assert.deepEqual(plan.components[0]!.nodes, ['cp-2', 'cp-3']);
    assert.equal(plan.components[0]!.daemonSetExists, 'differs');
  });
});
