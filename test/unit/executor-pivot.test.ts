// Executor tests of pivot (src/pivot/pivot.ts) against a fake cluster (test/unit/fakes/cluster.ts): the apiserver's
// hand-over proof, checkpoints, what status reads back, and resume.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GENERATION_ANNOTATION } from '../../src/core/checkpoint.ts';
import { PIVOT_ORDER } from '../../src/core/components.ts';
import type { Pod } from '../../src/core/k8s-types.ts';
import { buildPlan } from '../../src/core/plan.ts';
import { buildStatus } from '../../src/core/status.ts';
import { parseAll } from '../../src/core/yaml.ts';
import { runPivot } from '../../src/pivot/pivot.ts';
import { paths } from '../../src/ports/kube.ts';
import { apiGaps, editDaemonSet, fakeCluster, fixture, killAt, opArgs, writesIn, type FakeCluster } from './fakes/cluster.ts';
import { PreconditionError } from '../../src/core/errors.ts';

const API = { components: ['kube-apiserver' as const] };
const SCHEDULER = { components: ['kube-scheduler' as const] };
const at = (calls: string[], call: string) => {
  const i = calls.indexOf(call);
  assert.ok(i >= 0, `expected the call ${call}`);
  return i;
};
const records = (w: FakeCluster) => {
  const cm = w.kube.objects.get(paths.configMap('kube-system', 'kubectl-selfhost-checkpoints')) as { data?: Record<string, string> } | undefined;
  return Object.fromEntries(Object.entries(cm?.data ?? {}).map(([node, r]) => [node, JSON.parse(r) as unknown]));
};
const checkpointImage = (w: FakeCluster, node: string) => (parseAll(w.files.backups.get(`${node}/kube-apiserver.checkpoint.yaml`)!)[0] as Pod).spec.containers[0]!.image;
const status = async (w: FakeCluster) => buildStatus({ snapshot: await w.session.readSnapshot(), context: 'fake', etcd: { healthy: true, detail: 'ok' }, backups: {} });

describe('pivot executor: the apiserver hand-over proof', () => {
  it('checkpoints and removes the static apiserver only after the new process answered, checks it answers alone, and the API never goes away', async () => {
    const w = fakeCluster(1);
    const gaps = apiGaps(w);
    await runPivot(w.env, opArgs(API));
    const c = w.kube.calls;
    const ds = at(c, 'CREATE /apis/apps/v1/namespaces/kube-system/daemonsets/kube-apiserver');
    const checkpoint = at(c, 'node cp-1: write backup kube-apiserver.checkpoint.yaml');
    const checkpointer = at(c, 'node cp-1: write kubectl-selfhost-checkpointer.yaml');
    const remove = at(c, 'node cp-1: remove kube-apiserver.yaml');
    assert.ok(ds < checkpoint && c.slice(ds, checkpoint).includes('PROBE cp-1'), 'probed between the DaemonSet and the checkpoint');
    assert.ok(checkpoint < checkpointer && checkpointer < remove, 'no reboot window: checkpoint and checkpointer before the removal');
    assert.ok(c.slice(checkpointer, remove).includes('PROBE cp-1'), 'probed again by the hand-over, before the removal');
    assert.ok(c.slice(remove).includes('PROBE cp-1'), 'probed after the removal (answers alone)');
    assert.deepEqual(w.kubelet.procs.filter((p) => p.apiserver).map((p) => p.pod), ['kube-apiserver-g1-cp-1']);
    assert.deepEqual(gaps, []);
  });

  it('keeps the static apiserver while the DaemonSet pod is ready but its own process does not answer', async () => {
    const w = fakeCluster(1);
    w.kubelet.deaf = (pod) => pod.startsWith('kube-apiserver-g');
    await assert.rejects(runPivot(w.env, opArgs(API)), /gave up after 30s waiting for the apiserver DaemonSet pod on cp-1 to serve with its own process \(to checkpoint it\); last seen: .*ready true.*processes started at \d\d:\d\d:\d\d;/);
    for (const call of ['write backup kube-apiserver.checkpoint.yaml', 'write kubectl-selfhost-checkpointer.yaml', 'remove kube-apiserver.yaml']) {
      assert.equal(w.kube.calls.includes(`node cp-1: ${call}`), false, `no ${call}`);
    }
    assert.ok(w.files.manifests.has('cp-1/kube-apiserver.yaml'));
    assert.equal(w.files.backups.has('cp-1/kube-apiserver.checkpoint.yaml'), false);
  });

  it('fails the hand-over while the static process still answers after its mirror pod went; the checkpoint, written before, and the backup stay', async () => {
    const w = fakeCluster(1);
    w.kubelet.lingers = (pod) => pod === 'kube-apiserver-cp-1' && !w.files.manifests.has('cp-1/kube-apiserver.yaml');
    await assert.rejects(runPivot(w.env, opArgs(API)), /waiting for kube-apiserver on cp-1 to be healthy, served by the DaemonSet pod alone/);
    const c = w.kube.calls;
    assert.ok(at(c, 'node cp-1: write kubectl-selfhost-checkpointer.yaml') < at(c, 'node cp-1: remove kube-apiserver.yaml'));
    assert.ok(w.files.manifests.has('cp-1/kubectl-selfhost-checkpointer.yaml'), 'a reboot now finds the checkpoint');
    assert.ok(w.files.backups.has('cp-1/kube-apiserver.checkpoint.yaml'));
    assert.ok((w.files.backups.get('cp-1/kube-apiserver.yaml') ?? '').includes('kube-apiserver'), 'the static manifest is kept (its backup), for a rollback');
  });
});

describe('pivot executor: a node not Ready', () => {
  it('is given --timeout, then pivot refuses (a precondition, exit 5) naming it, with nothing written', async () => {
    const w = fakeCluster(2);
    const node = w.kube.objects.get(`${paths.nodes()}/cp-2`) as unknown as { status: { conditions: Array<{ type: string; status: string }> } };
    node.status.conditions = [{ type: 'Ready', status: 'Unknown' }];
    w.kube.calls.length = 0;
    await assert.rejects(runPivot(w.env, opArgs({ timeoutMs: 5000 })), (e: unknown) => e instanceof PreconditionError
      && /^control-plane node cp-2 is not Ready; fix it before pivoting \("kubectl describe node cp-2"\) \(waited 5s\)$/.test(e.message));
    assert.deepEqual(writesIn(w.kube.calls), []);
  });
});

describe('pivot executor: checkpoints', () => {
  it('writes each node\'s checkpoint right before its hand-over, from the pod that serves there, and records generation and image', async () => {
    const w = fakeCluster(2);
    const gaps = apiGaps(w);
    assert.equal((await runPivot(w.env, opArgs(API))).journal?.state, 'completed');
    const c = w.kube.calls;
    for (const n of ['cp-1', 'cp-2']) {
      const remove = at(c, `node ${n}: remove kube-apiserver.yaml`);
      assert.ok(at(c, `node ${n}: write backup kube-apiserver.checkpoint.yaml`) < remove && at(c, `node ${n}: write kubectl-selfhost-checkpointer.yaml`) < remove, `${n} can reboot during its own hand-over`);
    }
    assert.ok(at(c, 'node cp-1: remove kube-apiserver.yaml') < at(c, 'node cp-2: write backup kube-apiserver.checkpoint.yaml'), 'node by node: cp-2 is checkpointed once cp-1 is handed over');
    const image = 'registry.k8s.io/kube-apiserver:v1.34.4';
    assert.deepEqual(records(w), { 'cp-1': { generation: 1, image }, 'cp-2': { generation: 1, image } });
    const cp2 = parseAll(w.files.backups.get('cp-2/kube-apiserver.checkpoint.yaml')!)[0] as Pod;
    assert.ok(cp2.spec.containers[0]!.command!.includes('--advertise-address=10.213.0.3'), 'the node\'s own address, made literal');
    assert.equal(cp2.metadata.annotations?.[GENERATION_ANNOTATION], '1');
    assert.ok(w.kube.objects.has(paths.pod('kube-system', 'kubectl-selfhost-checkpointer-cp-2')));
    assert.deepEqual(gaps, []);
    const s = await w.session.readSnapshot();
    assert.deepEqual((await status(w)).nodes.map((n) => n.checkpoint), [1, 2].map(() => ({ exists: true, active: false, matchesDaemonSet: true, recordedGeneration: 1 })));
    assert.deepEqual(buildPlan(s, API, w.clock.now()).steps, [], 'nothing left to do');
  });

  it('after an edit through the API: status shows the version that runs and a stale checkpoint; pivot re-syncs it', async () => {
    const w = fakeCluster(1);
    await runPivot(w.env, opArgs());
    await editDaemonSet(w, 'kube-apiserver', (ds) => { ds.spec.template.spec.containers[0]!.image = 'registry.k8s.io/kube-apiserver:v1.34.5'; });
    const before = await status(w);
    const api = before.nodes[0]!.components.find((x) => x.component === 'kube-apiserver')!;
    assert.deepEqual([api.mode, api.version], ['self-hosted', 'v1.34.5']);
    const s = await w.session.readSnapshot();
    assert.equal(buildPlan(s, opArgs(), w.clock.now()).nodes[0]!.components.find((x) => x.component === 'kube-apiserver')!.version, 'v1.34.5');
    assert.equal(before.nodes[0]!.checkpoint.matchesDaemonSet, false);
    assert.ok(before.problems.some((p) => /written from DaemonSet generation 1, which has been edited since; run "kubectl selfhost pivot"/.test(p)));
    assert.deepEqual(buildPlan(s, { components: [...PIVOT_ORDER] }, w.clock.now()).steps.map((x) => x.id), ['checkpoint/kube-apiserver/cp-1']);
    await runPivot(w.env, opArgs());
    assert.deepEqual(records(w), { 'cp-1': { generation: 2, image: 'registry.k8s.io/kube-apiserver:v1.34.5' } });
    assert.equal(checkpointImage(w, 'cp-1'), 'registry.k8s.io/kube-apiserver:v1.34.5');
    assert.equal((await status(w)).nodes[0]!.checkpoint.matchesDaemonSet, true);
  });

  it('never checkpoints a DaemonSet edit whose pod never became ready: the checkpoint keeps the spec that ran', async () => {
    const w = fakeCluster(1);
    await runPivot(w.env, opArgs());
    w.kubelet.broken = (pod) => pod.startsWith('kube-apiserver-g2');
    await editDaemonSet(w, 'kube-apiserver', (ds) => { ds.spec.template.spec.containers[0]!.image = 'registry.k8s.io/kube-apiserver:v1.99.0'; });
    // The run writes the checkpoint again from the generation-1 pod that still serves (the surge keeps it), never
    // from generation 2, and says that generation 2 has not run there.
    w.events.length = 0;
    await runPivot(w.env, opArgs()).catch(() => undefined);
    assert.ok(w.events.some((e) => e.type === 'step-done' && /generation 2 of the DaemonSet has not run there yet, so it is not checkpointed/.test(e.skipped ?? '')), JSON.stringify(w.events.filter((e) => e.type === 'step-done')));
    assert.equal(checkpointImage(w, 'cp-1'), 'registry.k8s.io/kube-apiserver:v1.34.4');
    assert.deepEqual(records(w), { 'cp-1': { generation: 1, image: 'registry.k8s.io/kube-apiserver:v1.34.4' } });
  });
});

describe('pivot executor: resume', () => {
  it('re-runs a recorded step whose outcome no longer holds (the static scheduler put back by hand), and only that', async () => {
    const w = fakeCluster(1);
    w.env.fault = killAt('handover/kube-scheduler/cp-1:after');
    await assert.rejects(runPivot(w.env, opArgs(SCHEDULER)), /killed at/);
    delete w.env.fault;
    w.files.manifests.set('cp-1/kube-scheduler.yaml', w.files.backups.get('cp-1/kube-scheduler.yaml')!);
    w.kubelet.sync('cp-1');
    w.kube.calls.length = 0;
    const r = await runPivot(w.env, opArgs(SCHEDULER));
    assert.equal(r.journal?.state, 'completed');
    assert.ok(w.events.some((e) => e.type === 'info' && /resuming run pivot-/.test(e.message)));
    assert.ok(w.events.some((e) => e.type === 'info' && e.tag === '[pivot/kube-scheduler]' && /its outcome no longer holds/.test(e.message)));
    assert.ok(w.kube.calls.includes('node cp-1: remove kube-scheduler.yaml'));
    assert.equal(w.kube.calls.includes('node cp-1: backup kube-scheduler.yaml'), false, 'the backup, which still holds, is not done again');
    assert.equal(w.files.manifests.has('cp-1/kube-scheduler.yaml'), false);
  });

  it('writes a recorded checkpoint again on resume when the DaemonSet was edited since (its record no longer matches)', async () => {
    const w = fakeCluster(1);
    w.env.fault = killAt('checkpoint/kube-apiserver/cp-1:after');
    await assert.rejects(runPivot(w.env, opArgs()), /killed at/);
    delete w.env.fault;
    await editDaemonSet(w, 'kube-apiserver', (ds) => { ds.spec.template.spec.containers[0]!.image = 'registry.k8s.io/kube-apiserver:v1.34.5'; });
    assert.equal((await runPivot(w.env, opArgs())).journal?.state, 'completed');
    assert.deepEqual(records(w), { 'cp-1': { generation: 2, image: 'registry.k8s.io/kube-apiserver:v1.34.5' } });
    assert.equal((await status(w)).nodes[0]!.checkpoint.matchesDaemonSet, true);
  });

  it('on resume, a node handed over by the killed run whose checkpoint is gone gets it again before the next node is handed over', async () => {
    const w = fakeCluster(2);
    w.env.fault = killAt('handover/kube-apiserver/cp-1:after');
    await assert.rejects(runPivot(w.env, opArgs(API)), /killed at/);
    delete w.env.fault;
    // The checkpoint was written before the hand-over; one lost since (its checkpointer removed by hand, or a run
    // of an older version that checkpointed after the hand-over) must be written again before cp-2 is handed over.
    assert.ok(w.files.manifests.delete('cp-1/kubectl-selfhost-checkpointer.yaml'));
    w.kubelet.sync('cp-1');
    w.kube.calls.length = 0;
    assert.equal((await runPivot(w.env, opArgs(API))).journal?.state, 'completed');
    assert.ok(at(w.kube.calls, 'node cp-1: write kubectl-selfhost-checkpointer.yaml') < at(w.kube.calls, 'node cp-2: remove kube-apiserver.yaml'));
    assert.deepEqual(Object.keys(records(w)), ['cp-1', 'cp-2']);
  });

  it('applies the DaemonSet again on resume although the journal records it (it was deleted by hand since)', async () => {
    const w = fakeCluster(1);
    w.env.fault = killAt('daemonset/kube-scheduler:after');
    await assert.rejects(runPivot(w.env, opArgs(SCHEDULER)), /killed at/);
    delete w.env.fault;
    await w.kube.delete(paths.daemonSet('kube-system', 'kube-scheduler'));
    w.kube.calls.length = 0;
    assert.equal((await runPivot(w.env, opArgs(SCHEDULER))).journal?.state, 'completed');
    assert.ok(w.kube.calls.includes('CREATE /apis/apps/v1/namespaces/kube-system/daemonsets/kube-scheduler'));
    assert.ok(w.kube.objects.has(paths.pod('kube-system', 'kube-scheduler-g1-cp-1')));
    assert.equal(w.files.manifests.get('cp-1/kube-scheduler.yaml'), undefined);
    assert.notEqual(w.files.backups.get('cp-1/kube-scheduler.yaml'), undefined);
    assert.equal(w.files.backups.get('cp-1/kube-scheduler.yaml'), fixture('kube-scheduler'), 'the backup is still the original');
  });
});

describe('pivot executor: static manifests that differ between the nodes', () => {
  it('refuses a component whose manifest on one node has its own flag (exit 5), with nothing written; the others pivot', async () => {
    const w = fakeCluster(2);
    // A hand edit (or a kubeadm patch) on cp-2 only.
    w.files.manifests.set('cp-2/kube-apiserver.yaml', fixture('kube-apiserver', '10.213.0.3').replace('    - --allow-privileged=true\n', '    - --allow-privileged=true\n    - --max-requests-inflight=800\n'));
    w.kubelet.sync('cp-2');
    w.kube.calls.length = 0;
    await assert.rejects(runPivot(w.env, opArgs()), (e: unknown) => e instanceof PreconditionError
      && /^cannot pivot kube-apiserver \(cp-1 and cp-2 have different kube-apiserver manifests beyond the node address: --max-requests-inflight=800 on cp-2 only; .*\); see "kubectl selfhost plan"$/.test(e.message));
    assert.deepEqual(writesIn(w.kube.calls), []);
    assert.equal((await runPivot(w.env, opArgs(SCHEDULER))).journal?.state, 'completed', 'a component not asked for is no matter');
    assert.equal(w.files.manifests.get('cp-2/kube-scheduler.yaml'), undefined);
    assert.ok(w.files.manifests.has('cp-2/kube-apiserver.yaml'));
  });

  it('refuses under the Lease too, when only the files read from the nodes differ (the kubelet has not read the edit yet), before any change on a node', async () => {
    const w = fakeCluster(2);
    w.files.manifests.set('cp-2/kube-apiserver.yaml', fixture('kube-apiserver', '10.213.0.3').replace('    - --allow-privileged=true\n', '    - --allow-privileged=true\n    - --max-requests-inflight=800\n'));
    w.kube.calls.length = 0;
    await assert.rejects(runPivot(w.env, opArgs()), (e: unknown) => e instanceof PreconditionError
      && /^cannot pivot kube-apiserver \(cp-1 and cp-2 have different kube-apiserver manifests beyond the node address: --max-requests-inflight=800 on cp-2 only; .*\) \(in the manifests read from the nodes; nothing was changed on the nodes\); see "kubectl selfhost plan"$/.test(e.message));
    // Only the Lease and the node agents that read the files, each removed again.
    assert.deepEqual(writesIn(w.kube.calls).filter((c) => !/\/leases\/kubectl-selfhost$|\/pods\/kubectl-selfhost-agent-/.test(c)), []);
    assert.equal(w.kube.objects.has(paths.daemonSet('kube-system', 'kube-scheduler')), false);
  });
});
