// The rollback planner on a pivoted kubeadm v1.34.4 control plane (DaemonSets built from the real kubeadm
// manifests, the cluster copies of the originals): golden plan JSON, sources, order, and the round trip of each
// static pod through its DaemonSet template and back.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { COMPONENTS, type Component } from '../../src/core/components.ts';
import type { Pod } from '../../src/core/k8s-types.ts';
import { buildRollbackPlan, type RollbackOptions } from '../../src/core/rollback-plan.ts';
import type { Snapshot } from '../../src/core/snapshot.ts';
import { canonicalTemplate } from '../../src/core/transform/canonical.ts';
import { toDaemonSet } from '../../src/core/transform/daemonset.ts';
import { withPortSharing } from '../../src/core/transform/mutators.ts';
import { readFlag } from '../../src/core/container.ts';
import { toStaticPod } from '../../src/core/transform/to-static.ts';
import { parseAll } from '../../src/core/yaml.ts';
import { readStaticPod } from '../../src/sources/manifests-dir.ts';
import { assertGolden, FIXTURES } from './helpers.ts';
import { gateLabel } from '../../src/core/labels.ts';

const NOW = new Date('2026-01-02T03:04:05Z');
const dir = join(FIXTURES, 'kubeadm', 'v1.34.4');
const text = (c: string) => readFileSync(join(dir, `${c}.yaml`), 'utf8');
const original = (c: Component) => readStaticPod(dir, `${c}.yaml`).pod;
const all: RollbackOptions = { components: ['kube-scheduler', 'kube-controller-manager', 'kube-apiserver'], toOriginal: false, exact: false, force: false };

/** cp-1 after a pivot: every component self-hosted, the checkpointer running, the originals in the cluster. */
function pivoted(): Snapshot {
  return {
    source: { kind: 'cluster', context: 'test', server: 'https://10.0.0.7:6443' },
    nodes: [{
      name: 'cp-1', staticPodPath: '/etc/kubernetes/manifests', ready: true, address: '10.0.0.7',
      labels: { 'node-role.kubernetes.io/control-plane': '', ...Object.fromEntries(COMPONENTS.map((c) => [gateLabel(c), 'true'])) },
      staticPods: [readStaticPod(dir, 'etcd.yaml')],
      daemonPods: COMPONENTS.map((component) => ({ component, name: `${component}-x`, ready: true, restarts: 0, image: original(component).spec.containers[0]!.image! })),
      checkpoint: { recordedGeneration: 1, active: false, checkpointer: true },
    }],
    daemonSets: Object.fromEntries(COMPONENTS.map((c) => [c, toDaemonSet(c, original(c))])),
    journal: null,
    backups: { 'cp-1': Object.fromEntries(COMPONENTS.map((c) => [c, text(c)])) },
    clusterUid: 'uid-1',
  };
}

describe('buildRollbackPlan', () => {
  it('plan JSON for a pivoted kubeadm v1.34.4 control plane matches its golden file', () => {
    assertGolden('v1.34.4/rollback-plan.json', JSON.stringify(buildRollbackPlan(pivoted(), all, NOW), null, 2) + '\n');
  });

  it('apiserver first; its checkpoint removed only after its static pod is restored; DaemonSets deleted after, then the node labels; cleanup last', () => {
    const ids = buildRollbackPlan(pivoted(), all, NOW).steps.map((s) => s.id);
    assert.deepEqual(ids, [
      'guard/kube-apiserver', 'restore/kube-apiserver/cp-1', 'uncheckpoint/cp-1', 'delete-daemonset/kube-apiserver', 'ungate/kube-apiserver/cp-1', 'unguard/kube-apiserver',
      'restore/kube-controller-manager/cp-1', 'delete-daemonset/kube-controller-manager', 'ungate/kube-controller-manager/cp-1',
      'restore/kube-scheduler/cp-1', 'delete-daemonset/kube-scheduler', 'ungate/kube-scheduler/cp-1',
      'cleanup/cp-1',
    ]);
  });

  it('the endpoint guard: around the apiserver hand-back, for its addresses; after a killed run, removed even with nothing to hand back', () => {
    const plan = buildRollbackPlan(pivoted(), all, NOW);
    const guard = plan.steps.find((st) => st.id === 'guard/kube-apiserver') as { addresses: string[] };
    assert.deepEqual(guard.addresses, ['10.0.0.7']);
    const staticNow: Snapshot = { ...pivoted(), nodes: [{ ...pivoted().nodes[0]!, labels: {}, staticPods: COMPONENTS.map((c) => readStaticPod(dir, `${c}.yaml`)), daemonPods: [], checkpoint: undefined }], daemonSets: {}, backups: {} };
    const journal = { apiVersion: 'kubectl-selfhost.dev/v1alpha1', kind: 'Journal', operation: 'pivot', runId: 'r', startedAt: NOW.toISOString(), updatedAt: NOW.toISOString(), state: 'in-progress', components: ['kube-apiserver'], done: [] } as unknown as Snapshot['journal'];
    assert.deepEqual(buildRollbackPlan({ ...staticNow, journal }, all, NOW).steps.map((st) => st.id), ['unguard/kube-apiserver'], 'a killed run may have left it');
    assert.deepEqual(buildRollbackPlan({ ...staticNow, journal: { ...journal!, state: 'completed' } }, all, NOW).steps.map((st) => st.id), [], 'a finished run left none');
    assert.deepEqual(buildRollbackPlan({ ...staticNow, journal: null, endpointGuard: true }, all, NOW).steps.map((st) => st.id), ['unguard/kube-apiserver'], 'one seen in place, its journal gone');
    assert.deepEqual(buildRollbackPlan({ ...staticNow, journal }, { ...all, components: ['kube-scheduler'] }, NOW).steps.map((st) => st.id), [], 'only where the apiserver is among the components');
  });

  it('a node no longer in the cluster: a full rollback forgets it last (its cluster copies, its checkpoint record); a partial one leaves it', () => {
    const s = pivoted();
    s.backups = { ...s.backups, 'cp-9': { 'kube-apiserver': text('kube-apiserver') } };
    const ids = buildRollbackPlan(s, all, NOW).steps.map((st) => st.id);
    assert.equal(ids.at(-1), 'forget-node/cp-9');
    assert.equal(ids.filter((id) => id.startsWith('forget-node/')).length, 1, 'cp-1, which is there, is not forgotten');
    assert.deepEqual(buildRollbackPlan(s, { ...all, components: ['kube-scheduler'] }, NOW).steps.filter((st) => st.action === 'forget-node'), []);
    assert.deepEqual(buildRollbackPlan(pivoted(), all, NOW).steps.filter((st) => st.action === 'forget-node'), [], 'none without a gone node');
  });

  it('where the node helper can run, the apiserver is steered back: the program before the restore, detached after the DaemonSet is gone', () => {
    const s = pivoted();
    s.nodes[0] = { ...s.nodes[0]!, kernel: '6.1.0', arch: 'amd64' };
    const plan = (archs: string[]) => buildRollbackPlan(s, { ...all, helperArchs: archs }, NOW);
    assert.deepEqual(plan(['amd64']).steps.map((st) => st.id).filter((id) => /kube-apiserver/.test(id)), [
      'guard/kube-apiserver', 'steer/kube-apiserver/cp-1', 'restore/kube-apiserver/cp-1', 'delete-daemonset/kube-apiserver', 'unsteer/kube-apiserver/cp-1', 'ungate/kube-apiserver/cp-1', 'unguard/kube-apiserver',
    ].filter((id) => plan(['amd64']).steps.some((st) => st.id === id)));
    const ids = plan(['amd64']).steps.map((st) => st.id);
    assert.ok(ids.indexOf('steer/kube-apiserver/cp-1') < ids.indexOf('restore/kube-apiserver/cp-1') && ids.indexOf('delete-daemonset/kube-apiserver') < ids.indexOf('unsteer/kube-apiserver/cp-1'), ids.join(' '));
    const restore = plan(['amd64']).steps.find((x) => x.id === 'restore/kube-apiserver/cp-1')!;
    assert.deepEqual(restore.action === 'restore' ? restore.steer : null, { arch: 'amd64', migrate: true });
    assert.match(restore.description, /once it answers at the probe address/);
    assert.equal(plan(['amd64']).steps.some((st) => st.action === 'steer' && st.component !== 'kube-apiserver'), false, 'the apiserver only');
    assert.equal(plan([]).steps.some((st) => st.action === 'steer' || (st.action === 'restore' && st.steer)), false, 'no helper in this build: as before');
  });

  it('every static pod comes back from its DaemonSet template as the original, but for the port-sharing flag', () => {
    for (const c of COMPONENTS) {
      const back = toStaticPod(c, toDaemonSet(c, original(c)).spec.template, { name: 'cp-1', address: '10.0.0.7' }, original(c));
      const want = withPortSharing(original(c));
      assert.deepEqual(canonicalTemplate({ metadata: back.metadata, spec: back.spec }), canonicalTemplate({ metadata: want.metadata, spec: want.spec }), c);
    }
  });

  it('without an original, the address comes from the node and nothing of the DaemonSet is left in the static pod', () => {
    const c = 'kube-apiserver';
    const back = toStaticPod(c, toDaemonSet(c, original(c)).spec.template, { name: 'cp-2', address: '10.0.0.8' }, null);
    const main = back.spec.containers[0]!;
    assert.equal(readFlag(main, '--advertise-address'), '10.0.0.8');
    assert.equal(main.env, undefined, 'no downward API in a static pod');
    for (const k of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) assert.equal(main[k]?.httpGet?.host, undefined, `${k}: not the DaemonSet's steering probe address`);
    assert.equal(back.metadata.labels?.['app.kubernetes.io/managed-by'], undefined, 'never taken for a DaemonSet pod');
    for (const f of ['nodeSelector', 'tolerations', 'dnsPolicy', 'automountServiceAccountToken']) assert.equal(back.spec[f], undefined, f);
    assert.throws(() => toStaticPod(c, toDaemonSet(c, original(c)).spec.template, { name: 'cp-3', address: null }, null), /cp-3 has no InternalIP/);
  });

  it('--to-original writes the originals (with port sharing); with no DaemonSet left, the original is the source', () => {
    const p = buildRollbackPlan(pivoted(), { ...all, toOriginal: true }, NOW);
    const api = p.components.find((x) => x.component === 'kube-apiserver')!.nodes[0]!;
    assert.equal(api.from, 'original');
    assert.equal(readFlag((parseAll(api.manifest!)[0] as Pod).spec.containers[0]!, '--permit-port-sharing'), 'true');
    const s = pivoted();
    delete s.daemonSets['kube-scheduler'];
    assert.equal(buildRollbackPlan(s, all, NOW).components.find((x) => x.component === 'kube-scheduler')!.nodes[0]!.from, 'original');
  });

  it('with neither a DaemonSet nor a cluster copy, restores from the node copy at run time, and warns', () => {
    const s = pivoted();
    delete s.daemonSets['kube-scheduler'];
    s.backups = { 'cp-1': {} };
    s.nodes[0]!.daemonPods = s.nodes[0]!.daemonPods.filter((p) => p.component !== 'kube-scheduler');
    const p = buildRollbackPlan(s, all, NOW);
    const sched = p.components.find((x) => x.component === 'kube-scheduler')!.nodes[0]!;
    assert.deepEqual([sched.from, sched.manifest], ['node-backup', null]);
    assert.ok(p.warnings.some((w) => w.code === 'NoSource' && /kube-scheduler runs nowhere on cp-1/.test(w.message)));
  });

  it('nothing to do on a static control plane with no backups; a partial rollback touches only what it names', () => {
    const st: Snapshot = { ...pivoted(), daemonSets: {}, backups: {}, nodes: [{ ...pivoted().nodes[0]!, labels: { 'node-role.kubernetes.io/control-plane': '' }, daemonPods: [], checkpoint: { active: false, checkpointer: false }, staticPods: [...COMPONENTS, 'etcd'].map((c) => readStaticPod(dir, `${c}.yaml`)) }] };
    assert.equal(buildRollbackPlan(st, all, NOW).steps.length, 0);
    const partial = buildRollbackPlan(pivoted(), { ...all, components: ['kube-controller-manager'] }, NOW);
    // Only the controller-manager's label goes: the apiserver and scheduler DaemonSets still select the node by theirs.
    assert.deepEqual(partial.steps.map((s) => s.id), ['restore/kube-controller-manager/cp-1', 'delete-daemonset/kube-controller-manager', 'ungate/kube-controller-manager/cp-1', 'cleanup/cp-1']);
    assert.deepEqual(partial.steps.find((s) => s.action === 'cleanup')!.action === 'cleanup' && (partial.steps.at(-1) as { components: string[] }).components, ['kube-controller-manager']);
  });

  it('labels left by a run that stopped after deleting the DaemonSet (static everywhere, no DaemonSet) are removed; a node without them needs nothing', () => {
    const s = pivoted();
    const st: Snapshot = { ...s, daemonSets: {}, backups: {}, nodes: [{ ...s.nodes[0]!, labels: { [gateLabel('kube-scheduler')]: 'true' }, daemonPods: [], checkpoint: { active: false, checkpointer: false }, staticPods: [...COMPONENTS, 'etcd'].map((c) => readStaticPod(dir, `${c}.yaml`)) }] };
    assert.deepEqual(buildRollbackPlan(st, all, NOW).steps.map((x) => x.id), ['ungate/kube-scheduler/cp-1']);
  });

  it('the apiserver DaemonSet deleted by hand: restores what the active checkpoint runs; before it runs, refuses the older original', () => {
    const s = pivoted();
    delete s.daemonSets['kube-apiserver'];
    s.nodes[0]!.daemonPods = s.nodes[0]!.daemonPods.filter((p) => p.component !== 'kube-apiserver');
    const edited = toDaemonSet('kube-apiserver', original('kube-apiserver')).spec.template.spec;
    const newer = { ...edited, containers: edited.containers.map((c) => ({ ...c, image: 'registry.k8s.io/kube-apiserver:v1.34.5' })) };
    s.nodes[0]!.checkpoint = { recordedGeneration: 2, recordedImage: 'registry.k8s.io/kube-apiserver:v1.34.5', active: false, checkpointer: true };
    const early = buildRollbackPlan(s, all, NOW).components.find((x) => x.component === 'kube-apiserver')!;
    assert.equal(early.action, 'blocked');
    assert.match(early.reason, /would downgrade kube-apiserver from v1\.34\.5, which ran last; once the checkpoint serves .* rollback restores what it runs; or add --force/);
    s.nodes[0]!.checkpoint = { ...s.nodes[0]!.checkpoint, active: true, activeSpec: newer };
    const api = buildRollbackPlan(s, all, NOW).components.find((x) => x.component === 'kube-apiserver')!;
    assert.equal(api.action, 'rollback');
    assert.equal(api.nodes[0]!.from, 'checkpoint');
    const pod = parseAll(api.nodes[0]!.manifest!)[0] as Pod;
    assert.equal(pod.spec.containers[0]!.image, 'registry.k8s.io/kube-apiserver:v1.34.5');
    assert.equal(pod.metadata.labels?.['component'], 'kube-apiserver');
  });
});

