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

  it('warns when nodes disagree beyond their address, and recognises an unchanged DaemonSet', () => {
    const a = staticNode('cp-1');
    const b = staticNode('cp-2');
    const api = b.staticPods.find((s) => s.pod.metadata.labels?.['component'] === 'kube-apiserver')!;
    api.pod = structuredClone(api.pod);
    api.pod.spec.containers[0]!.command!.push('--v=4');
    const existing = toDaemonSet('kube-apiserver', readStaticPod(dir, 'kube-apiserver.yaml').pod);
    const plan = buildPlan(clusterSnapshot([a, b], { daemonSets: { 'kube-apiserver': existing } }), { components: ['kube-apiserver'] }, NOW);
    assert.ok(plan.warnings.some((w) => w.code === 'ManifestsDiffer' && w.message.includes('cp-2')));
    assert.equal(plan.components[0]!.daemonSetExists, 'same');
  });

  it('is pure: the same snapshot and time give the same plan', () => {
    const s = readManifestsDir(dir);
    assert.deepEqual(buildPlan(s, { components: [...PIVOT_ORDER] }, NOW), buildPlan(s, { components: [...PIVOT_ORDER] }, NOW));
  });
});
