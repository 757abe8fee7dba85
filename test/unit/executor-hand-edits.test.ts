// Hand-deleted and hand-edited objects against the fakes at the ports (the real bed runs the same cases in
// test/e2e/faults/objects.e2e.test.ts): on a self-hosted control plane of two nodes, each object of the tool's is
// deleted or spoiled by hand; then status, pivot, rollback --components <each> and rollback. Nothing throws a bug
// (every failure is one of the tool's own errors), status names a command for every problem, some copy of every
// original survives every command, no apiserver is ever missing on a node because of a command, and rollback
// converges.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACTIVE_CHECKPOINT_FILE, INACTIVE_CHECKPOINT_FILE } from '../../src/core/checkpoint.ts';
import { PreconditionError, SelfhostError } from '../../src/core/errors.ts';
import { buildStatus, statusExitCode } from '../../src/core/status.ts';
import { runPivot } from '../../src/pivot/pivot.ts';
import { runRollback } from '../../src/pivot/rollback.ts';
import { paths } from '../../src/ports/kube.ts';
import { apiGaps, fakeCluster, opArgs, rollbackArgs, writesIn, type FakeCluster } from './fakes/cluster.ts';

const CONTROL_PLANE = ['kube-scheduler', 'kube-controller-manager', 'kube-apiserver'] as const;
type Component = (typeof CONTROL_PLANE)[number];

const statusOf = async (w: FakeCluster) => buildStatus({ snapshot: await w.session.readSnapshot(), context: 'fake', etcd: { healthy: true, detail: 'ok' }, backups: {} });
const clusterCopy = (w: FakeCluster, node: string, c: Component) => (w.kube.objects.get(paths.configMap('kube-system', `kubectl-selfhost-backup-${node}`)) as { data?: Record<string, string> } | undefined)?.data?.[`${c}.yaml`];

/** Some copy of each original is left: the static manifest, the node copy or the cluster copy. */
function noOriginalLost(w: FakeCluster, where: string): void {
  for (const n of w.nodes) {
    for (const c of CONTROL_PLANE) {
      const copies = [w.files.manifests.get(`${n.name}/${c}.yaml`), w.files.backups.get(`${n.name}/${c}.yaml`), clusterCopy(w, n.name, c)].filter((x) => x !== undefined);
      assert.ok(copies.length > 0, `${where}: some copy of ${c}'s original is left on ${n.name}`);
    }
  }
}

/** Runs a verb that may refuse or fail, but only with one of the tool's own errors (never a bug). */
async function tolerated(what: string, f: () => Promise<unknown>): Promise<string> {
  try {
    await f();
    return 'ok';
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    assert.ok(err instanceof SelfhostError || cause instanceof SelfhostError, `${what} fails only with the tool's own error: ${(err as Error).stack}`);
    return (err as Error).message;
  }
}

/** The checkpointer's own move with no apiserver answering: the inactive checkpoint made active. */
const activateCheckpoint = (w: FakeCluster, node: string) => {
  w.files.manifests.set(`${node}/${ACTIVE_CHECKPOINT_FILE}`, w.files.backups.get(`${node}/${INACTIVE_CHECKPOINT_FILE}`)!);
  w.kubelet.sync(node);
};

interface Edit { name: string; edit(w: FakeCluster): void | Promise<void> }
const EDITS: Edit[] = [
  // kubectl delete: through the API, so that the fake DaemonSet controller's garbage collection removes its pods.
  // The apiserver's: the checkpointer on each node then activates the checkpoint (what it does on the bed), so the
  // API is back before any command runs.
  ...CONTROL_PLANE.map((c) => ({ name: `the ${c} DaemonSet deleted`, edit: async (w: FakeCluster) => {
    await w.kube.delete(paths.daemonSet('kube-system', c));
    if (c === 'kube-apiserver') for (const n of w.nodes) activateCheckpoint(w, n.name);
  } })),
  { name: 'the journal deleted', edit: (w) => void w.kube.objects.delete(paths.configMap('kube-system', 'kubectl-selfhost-journal')) },
  { name: 'junk in the journal', edit: (w) => { (w.kube.objects.get(paths.configMap('kube-system', 'kubectl-selfhost-journal')) as unknown as { data: Record<string, string> }).data['journal.json'] = '{"apiVersion": ['; } },
  { name: 'the backup ConfigMaps deleted', edit: (w) => { for (const n of w.nodes) w.kube.objects.delete(paths.configMap('kube-system', `kubectl-selfhost-backup-${n.name}`)); } },
  { name: 'the node backup directories emptied', edit: (w) => { for (const k of [...w.files.backups.keys()]) if (!k.includes('checkpoint')) w.files.backups.delete(k); } },
  { name: 'the scheduler\'s original copied back by hand on cp-1', edit: (w) => { w.files.manifests.set('cp-1/kube-scheduler.yaml', w.files.backups.get('cp-1/kube-scheduler.yaml')!); w.kubelet.sync('cp-1'); } },
];

describe('the apiserver DaemonSet deleted, the checkpoint serving', () => {
  it('pivot refuses at once (no wait for a recovery that cannot come), naming the rollback that fixes it', async () => {
    const w = fakeCluster(2);
    await runPivot(w.env, opArgs());
    await w.kube.delete(paths.daemonSet('kube-system', 'kube-apiserver'));
    for (const n of w.nodes) activateCheckpoint(w, n.name);
    const t0 = w.clock.now().getTime();
    const calls = w.kube.calls.length;
    await assert.rejects(runPivot(w.env, opArgs()), (e: unknown) => e instanceof PreconditionError
      && /checkpoint serves on cp-1 but the kube-apiserver DaemonSet is gone .*run "kubectl selfhost rollback --components kube-apiserver"/.test((e as Error).message));
    assert.equal(w.clock.now().getTime(), t0, 'it did not wait');
    assert.deepEqual(writesIn(w.kube.calls.slice(calls)), [], 'nothing written');
    assert.equal(await tolerated('rollback --components kube-apiserver', () => runRollback(w.env, rollbackArgs({ components: ['kube-apiserver'] }))), 'ok');
    assert.equal(await tolerated('pivot', () => runPivot(w.env, opArgs())), 'ok', 'then pivot again works');
  });
});

describe('hand-deleted and hand-edited objects (fakes, two nodes)', () => {
  for (const e of EDITS) {
    for (const partial of [null, ...CONTROL_PLANE]) {
      it(`${e.name}; then status, pivot${partial ? `, rollback --components ${partial}` : ''}, rollback`, async () => {
        const w = fakeCluster(2);
        await runPivot(w.env, opArgs());
        await e.edit(w);
        const gaps = apiGaps(w);
        const st = await statusOf(w);
        for (const p of st.problems) assert.match(p, /kubectl selfhost \w+|kubectl \w+/, `status names a command: ${p}`);
        await tolerated('pivot', () => runPivot(w.env, opArgs()));
        noOriginalLost(w, 'after pivot');
        if (partial) {
          await tolerated(`rollback --components ${partial}`, () => runRollback(w.env, rollbackArgs({ components: [partial] })));
          noOriginalLost(w, 'after the partial rollback');
        }
        const r = await tolerated('rollback', () => runRollback(w.env, rollbackArgs()));
        assert.equal(r, 'ok', 'rollback converges');
        const end = await statusOf(w);
        assert.equal(statusExitCode(end), 0, end.problems.join('\n'));
        for (const n of end.nodes) for (const c of n.components) assert.equal(c.mode, 'static', `${c.component} on ${n.name}`);
        for (const n of w.nodes) for (const c of CONTROL_PLANE) assert.ok(w.files.manifests.has(`${n.name}/${c}.yaml`), `${c} runs static on ${n.name}`);
        assert.deepEqual(gaps, [], 'an apiserver listened on every node at every moment');
      });
    }
  }
});

describe('the backup ConfigMaps deleted while self-hosted (fakes, two nodes)', () => {
  it('status names the missing cluster copies with pivot, and pivot writes them again from the node copies', async () => {
    const w = fakeCluster(2);
    await runPivot(w.env, opArgs());
    const before = Object.fromEntries(w.nodes.flatMap((n) => CONTROL_PLANE.map((c) => [`${n.name}/${c}`, clusterCopy(w, n.name, c)])));
    for (const n of w.nodes) w.kube.objects.delete(paths.configMap('kube-system', `kubectl-selfhost-backup-${n.name}`));
    const st = await statusOf(w);
    for (const n of w.nodes) {
      for (const c of CONTROL_PLANE) {
        assert.ok(st.problems.some((p) => p.includes(`the cluster copy of ${c}'s original from ${n.name} is missing`) && p.includes('run "kubectl selfhost pivot"')), `${c} on ${n.name}: ${st.problems.join('\n')}`);
      }
    }
    const again = await runPivot(w.env, opArgs());
    assert.deepEqual(again.plan.steps.filter((s) => s.action === 'backup').map((s) => s.id).sort(), w.nodes.flatMap((n) => CONTROL_PLANE.map((c) => `backup/${c}/${n.name}`)).sort());
    for (const [key, text] of Object.entries(before)) {
      const [node, c] = key.split('/') as [string, Component];
      assert.equal(clusterCopy(w, node, c), text, `the cluster copy of ${c} on ${node} is the original again`);
    }
    assert.equal(statusExitCode(await statusOf(w)), 0);
  });
});
