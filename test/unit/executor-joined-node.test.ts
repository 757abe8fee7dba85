// The per-node gate (src/core/node-gate.ts) against a fake cluster: a control-plane node that joins after the pivot
// gets no DaemonSet pod beside kubeadm's static pods (which do not share their ports), status and plan name it
// and the fix, the next pivot hands it over; rollback removes the labels only once the static pods serve, and a
// partial rollback leaves the other components' labels.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PIVOT_ORDER, type Component } from '../../src/core/components.ts';
import type { DaemonSet } from '../../src/core/k8s-types.ts';
import { gateLabel } from '../../src/core/labels.ts';
import { buildPlan } from '../../src/core/plan.ts';
import { buildStatus } from '../../src/core/status.ts';
import { runPivot } from '../../src/pivot/pivot.ts';
import { gateStepRuns } from '../../src/pivot/gate-steps.ts';
import { runRollback } from '../../src/pivot/rollback.ts';
import { paths } from '../../src/ports/kube.ts';
import { apiGaps, fakeCluster, joinNode, opArgs, rollbackArgs, type FakeCluster } from './fakes/cluster.ts';

const labelsOf = (w: FakeCluster, node: string) => (w.kube.objects.get(paths.node(node))!.metadata['labels'] ?? {}) as Record<string, string>;
const daemonSet = (w: FakeCluster, c: Component) => w.kube.objects.get(paths.daemonSet('kube-system', c)) as unknown as DaemonSet;
/** What the DaemonSet controller asks of a node: every key of the template's nodeSelector, with its value. */
const selects = (ds: DaemonSet, labels: Record<string, string>) => Object.entries(ds.spec.template.spec.nodeSelector ?? {}).every(([k, v]) => labels[k] === v);
const daemonPods = (w: FakeCluster, node: string) => [...w.kube.objects.keys()].filter((p) => /\/pods\/kube-[a-z-]+-g\d+-/.test(p) && p.endsWith(`-${node}`)).map((p) => p.split('/').pop()!).sort();
const status = async (w: FakeCluster) => buildStatus({ snapshot: await w.session.readSnapshot(), context: 'fake', etcd: { healthy: true, detail: 'ok' }, backups: {} });
const gated = (w: FakeCluster, node: string) => PIVOT_ORDER.filter((c) => labelsOf(w, node)[gateLabel(c)] === 'true');

/** cp-1 and cp-2 pivoted; then cp-3 joins as a control-plane node. */
async function joinedAfterPivot(): Promise<FakeCluster> {
  const w = fakeCluster(2);
  assert.equal((await runPivot(w.env, opArgs())).journal?.state, 'completed');
  await joinNode(w, 'cp-3', '10.213.0.4');
  w.kube.calls.length = 0;
  return w;
}

describe('the node gate: a control-plane node joined after the pivot', () => {
  it('pivot labels each node it hands a component over on, before that component\'s DaemonSet is applied', async () => {
    const w = fakeCluster(2);
    await runPivot(w.env, opArgs());
    for (const n of ['cp-1', 'cp-2']) assert.deepEqual(gated(w, n), [...PIVOT_ORDER], `${n} carries every gate label`);
    const c = w.kube.calls;
    for (const comp of PIVOT_ORDER) {
      const ds = c.indexOf(`CREATE /apis/apps/v1/namespaces/kube-system/daemonsets/${comp}`);
      for (const n of ['cp-1', 'cp-2']) {
        const label = c.indexOf(`PATCH /api/v1/nodes/${n} {"metadata":{"labels":{"${gateLabel(comp)}":"true"}}}`);
        assert.ok(label >= 0 && label < ds, `${n} labelled for ${comp} before its DaemonSet`);
        assert.ok(c.indexOf(`node ${n}: write ${comp}.yaml`) < label, `${n}'s static ${comp} shares its port before the label`);
      }
    }
  });

  it('gets no DaemonSet pod: no DaemonSet selects it, while each still selects the pivoted nodes', async () => {
    const w = await joinedAfterPivot();
    for (const c of PIVOT_ORDER) {
      assert.equal(selects(daemonSet(w, c), labelsOf(w, 'cp-3')), false, `${c}'s DaemonSet does not select cp-3`);
      assert.equal(selects(daemonSet(w, c), labelsOf(w, 'cp-1')), true, `${c}'s DaemonSet selects cp-1`);
    }
    assert.deepEqual(daemonPods(w, 'cp-3'), []);
    assert.equal(w.kubelet.procs.filter((p) => p.node === 'cp-3' && p.apiserver).length, 1, 'only kubeadm\'s static apiserver runs on cp-3');
  });

  it('status and plan show it still running static pods and name the fix: pivot', async () => {
    const w = await joinedAfterPivot();
    const s = await status(w);
    assert.equal(s.summary, 'mid-way');
    assert.deepEqual(s.nodes.find((n) => n.name === 'cp-3')!.components.filter((c) => c.component !== 'etcd').map((c) => c.mode), ['static', 'static', 'static']);
    assert.ok(s.problems.some((p) => /^cp-3 runs kube-scheduler, kube-controller-manager, kube-apiserver as static pods while the other control-plane nodes run them from DaemonSets .*run "kubectl selfhost pivot" to hand it over/.test(p)), s.problems.join('\n'));
    const plan = buildPlan(await w.session.readSnapshot(), { components: [...PIVOT_ORDER] }, w.clock.now());
    assert.ok(plan.warnings.some((x) => x.code === 'NotHandedOver' && x.message.startsWith('cp-3 runs kube-apiserver as a static pod')));
    assert.deepEqual(plan.steps.filter((x) => x.action === 'gate').map((x) => x.id), PIVOT_ORDER.map((c) => `gate/${c}/cp-3`));
  });

  it('the next pivot backs it up, shares its ports, labels it and hands it over; the other nodes\' pods are not restarted', async () => {
    const w = await joinedAfterPivot();
    const before = ['cp-1', 'cp-2'].flatMap((n) => daemonPods(w, n));
    const gaps = apiGaps(w);
    assert.equal((await runPivot(w.env, opArgs())).journal?.state, 'completed');
    assert.deepEqual(gated(w, 'cp-3'), [...PIVOT_ORDER]);
    assert.deepEqual(daemonPods(w, 'cp-3').length, 3);
    assert.deepEqual(['cp-1', 'cp-2'].flatMap((n) => daemonPods(w, n)), before, 'the same DaemonSet pods: no rolling update');
    for (const c of PIVOT_ORDER) assert.equal(w.files.manifests.has(`cp-3/${c}.yaml`), false, `no static ${c} left on cp-3`);
    assert.ok(w.files.backups.has('cp-3/kube-apiserver.yaml'), 'backed up');
    const patched = w.kube.calls.filter((x) => x.startsWith('PATCH '));
    assert.ok(patched.length === 3 && patched.every((x) => x.startsWith('PATCH /api/v1/nodes/cp-3 ')), patched.join('\n'));
    assert.equal((await status(w)).summary, 'healthy');
    assert.deepEqual(gaps, []);
  });
});

describe('the node gate: a label removed by hand', () => {
  it('takes the DaemonSet pod away; status names the label that brings it back', async () => {
    const w = fakeCluster(2);
    await runPivot(w.env, opArgs({ components: ['kube-scheduler'] }));
    await w.kube.patch(paths.node('cp-2'), { metadata: { labels: { [gateLabel('kube-scheduler')]: null } } });
    assert.deepEqual(daemonPods(w, 'cp-2'), []);
    const s = await status(w);
    assert.equal(s.summary, 'degraded');
    assert.ok(s.problems.includes('kube-scheduler runs nowhere on cp-2: its DaemonSet keeps off the node, which lacks the label kubectl-selfhost.dev/self-hosted-kube-scheduler=true (removed by hand?); "kubectl label node cp-2 kubectl-selfhost.dev/self-hosted-kube-scheduler=true" brings the DaemonSet pod back'), s.problems.join('\n'));
  });
});

describe('the node gate: rollback', () => {
  it('a full rollback removes every label, each only once its DaemonSet is gone (the static pods serve alone by then)', async () => {
    const w = fakeCluster(2);
    await runPivot(w.env, opArgs());
    w.kube.calls.length = 0;
    const gaps = apiGaps(w);
    assert.equal((await runRollback(w.env, rollbackArgs())).journal?.state, 'completed');
    for (const n of ['cp-1', 'cp-2']) assert.deepEqual(gated(w, n), [], `${n} carries no gate label`);
    const c = w.kube.calls;
    for (const comp of PIVOT_ORDER) {
      const deleted = c.indexOf(`DELETE /apis/apps/v1/namespaces/kube-system/daemonsets/${comp}`);
      for (const n of ['cp-1', 'cp-2']) {
        const unlabel = c.indexOf(`PATCH /api/v1/nodes/${n} {"metadata":{"labels":{"${gateLabel(comp)}":null}}}`);
        assert.ok(deleted >= 0 && deleted < unlabel, `${n}'s ${comp} label removed after its DaemonSet`);
      }
    }
    assert.deepEqual(gaps, []);
  });

  it('a partial rollback removes only its component\'s label; the other DaemonSets keep their pods', async () => {
    const w = fakeCluster(2);
    await runPivot(w.env, opArgs());
    assert.equal((await runRollback(w.env, rollbackArgs({ components: ['kube-scheduler'] }))).journal?.state, 'completed');
    for (const n of ['cp-1', 'cp-2']) {
      assert.deepEqual(gated(w, n), ['kube-controller-manager', 'kube-apiserver']);
      assert.deepEqual(daemonPods(w, n).map((p) => p.replace(/-g\d+-.*/, '')), ['kube-apiserver', 'kube-controller-manager']);
    }
  });

  it('refuses to remove a label while the DaemonSet pod runs there and the static pod does not serve', async () => {
    const w = fakeCluster(1);
    await runPivot(w.env, opArgs({ components: ['kube-scheduler'] }));
    // The static scheduler never became ready (restored by hand, broken): the DaemonSet pod may be its only instance.
    w.kubelet.broken = (pod) => pod === 'kube-scheduler-cp-1';
    w.files.manifests.set('cp-1/kube-scheduler.yaml', w.files.backups.get('cp-1/kube-scheduler.yaml')!);
    w.kubelet.sync('cp-1');
    const step = gateStepRuns({ component: 'kube-scheduler', node: 'cp-1', label: gateLabel('kube-scheduler'), on: false });
    await assert.rejects(step.run({ kube: w.kube }), /not removing the label kubectl-selfhost\.dev\/self-hosted-kube-scheduler from cp-1: the DaemonSet pod kube-scheduler-g1-cp-1 runs there and the static kube-scheduler does not serve .*run "kubectl selfhost rollback" again once it serves/);
    assert.deepEqual(gated(w, 'cp-1'), ['kube-scheduler']);
    assert.equal(await step.verify!({ kube: w.kube }), false);
  });
});
