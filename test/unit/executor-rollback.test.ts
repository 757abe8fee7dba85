// Executor tests of rollback (src/pivot/rollback.ts) against a fake cluster: its order (restore the apiserver, then
// its checkpoint off, then the DaemonSet), never without a serving apiserver, --exact, --to-original and --force,
// cleanup never deleting the last copy of an original, and a corrupt or foreign journal (status, pivot, rollback).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Chalk } from 'chalk';
import { ACTIVE_CHECKPOINT_FILE, CHECKPOINTER_FILE, INACTIVE_CHECKPOINT_FILE } from '../../src/core/checkpoint.ts';
import { PreconditionError } from '../../src/core/errors.ts';
import type { Pod } from '../../src/core/k8s-types.ts';
import { buildRollbackPlan } from '../../src/core/rollback-plan.ts';
import { buildStatus, statusExitCode } from '../../src/core/status.ts';
import { parseAll } from '../../src/core/yaml.ts';
import { runPivot } from '../../src/pivot/pivot.ts';
import { runRollback } from '../../src/pivot/rollback.ts';
import { rollbackSteps } from '../../src/pivot/rollback-steps.ts';
import { paths } from '../../src/ports/kube.ts';
import { renderStatus } from '../../src/ui/status-view.ts';
import { apiGaps, editDaemonSet, fakeCluster, fixture, killAt, opArgs, rollbackArgs, writesIn, type FakeCluster } from './fakes/cluster.ts';
import { fakeSockets } from './fakes/sockets.ts';

const DS = paths.daemonSet('kube-system', 'kube-apiserver');
const at = (calls: string[], call: string) => {
  const i = calls.indexOf(call);
  assert.ok(i >= 0, `expected the call ${call}`);
  return i;
};
const pivoted = async (nodes: number) => {
  const w = fakeCluster(nodes);
  await runPivot(w.env, opArgs());
  w.kube.calls.length = 0;
  return w;
};
/** The checkpointer's own move after a reboot with no apiserver answering: the inactive checkpoint made active. */
const activateCheckpoint = (w: FakeCluster, node: string) => {
  w.files.manifests.set(`${node}/${ACTIVE_CHECKPOINT_FILE}`, w.files.backups.get(`${node}/${INACTIVE_CHECKPOINT_FILE}`)!);
  w.kubelet.sync(node);
};
const listening = (w: FakeCluster, node: string) => w.kubelet.procs.filter((p) => p.node === node && p.apiserver && p.listening).map((p) => p.pod);

describe('rollback executor: order', () => {
  it('per node: restores the static apiserver, proves it, then its checkpoint goes; the DaemonSet goes last; the API never goes away', async () => {
    const w = await pivoted(2);
    const gaps = apiGaps(w);
    assert.equal((await runRollback(w.env, rollbackArgs())).journal?.state, 'completed');
    const c = w.kube.calls;
    for (const node of ['cp-1', 'cp-2']) {
      const restore = at(c, `node ${node}: write kube-apiserver.yaml`);
      const uncheckpoint = at(c, `node ${node}: remove own ${CHECKPOINTER_FILE}`);
      assert.equal(c.filter((x) => x === `node ${node}: remove own ${CHECKPOINTER_FILE}`).length, 1, `${node}: the checkpointer is not stopped early when the DaemonSet pod serves`);
      assert.ok(restore < uncheckpoint && c.slice(restore, uncheckpoint).includes(`PROBE ${node}`), `${node}: the static apiserver proven before its checkpoint goes`);
      assert.ok(uncheckpoint < at(c, `DELETE ${DS}`));
    }
    assert.ok(at(c, `node cp-1: remove own ${CHECKPOINTER_FILE}`) < at(c, 'node cp-2: write kube-apiserver.yaml'), 'node by node');
    assert.ok(at(c, `DELETE ${DS}`) < at(c, 'DELETE /apis/apps/v1/namespaces/kube-system/daemonsets/kube-controller-manager'), 'the apiserver first');
    assert.deepEqual(gaps, []);
    assert.deepEqual(listening(w, 'cp-1'), ['kube-apiserver-cp-1']);
    assert.equal(w.files.backups.size, 0, 'every backup removed: everything runs static from its manifest again');
  });

  it('never removes a checkpoint, nor deletes the DaemonSet, while the restored static apiserver does not serve', async () => {
    const w = await pivoted(1);
    w.kubelet.broken = (pod) => pod === 'kube-apiserver-cp-1';
    await assert.rejects(runRollback(w.env, rollbackArgs()), /waiting for the static kube-apiserver on cp-1 to serve/);
    assert.equal(w.kube.calls.some((c) => c.includes(`remove own`) || c === `DELETE ${DS}`), false);
    assert.ok(w.files.manifests.has(`cp-1/${CHECKPOINTER_FILE}`) && w.kube.objects.has(DS));
    // Its step refuses on its own too (a resumed run that finds the static apiserver gone again).
    const plan = buildRollbackPlan(await w.session.readSnapshot(), { components: ['kube-apiserver'], toOriginal: false, exact: false, force: false }, w.clock.now());
    const step = rollbackSteps(plan.steps).find((s) => s.id === 'uncheckpoint/cp-1')!;
    const ctx = { kube: w.kube, files: w.files, sockets: fakeSockets([]), probe: w.probe, clock: w.clock, emit: () => undefined, wait: { clock: w.clock, emit: () => undefined, timeoutMs: 5000 }, agentImage: 'busybox:test' };
    await assert.rejects(step.run(ctx), (e: unknown) => e instanceof PreconditionError && /not removing the apiserver checkpoint on cp-1: the static apiserver does not serve there/.test(e.message));
    assert.ok(w.files.manifests.has(`cp-1/${CHECKPOINTER_FILE}`));
  });

  it('with the DaemonSet deleted by hand and the checkpoint serving: the static apiserver is back before the checkpoint goes', async () => {
    const w = await pivoted(1);
    await w.kube.delete(DS);
    activateCheckpoint(w, 'cp-1');
    assert.deepEqual(listening(w, 'cp-1'), ['kubectl-selfhost-checkpoint-kube-apiserver-cp-1'], 'the checkpoint is the only apiserver');
    w.kube.calls.length = 0;
    const gaps = apiGaps(w);
    assert.equal((await runRollback(w.env, rollbackArgs({ components: ['kube-apiserver'] }))).journal?.state, 'completed');
    const c = w.kube.calls;
    // The checkpointer stopped before the write: it would retire the checkpoint once a second apiserver listens.
    assert.ok(at(c, `node cp-1: remove own ${CHECKPOINTER_FILE}`) < at(c, 'node cp-1: write kube-apiserver.yaml'), 'the checkpointer stopped before the restore');
    assert.ok(at(c, 'node cp-1: write kube-apiserver.yaml') < at(c, `node cp-1: remove own ${ACTIVE_CHECKPOINT_FILE}`));
    assert.deepEqual(gaps, []);
    assert.deepEqual(listening(w, 'cp-1'), ['kube-apiserver-cp-1']);
    assert.match(w.files.manifests.get('cp-1/kube-apiserver.yaml')!, /--permit-port-sharing=true/);
  });
});

describe('rollback executor: a node not Ready', () => {
  const setReady = (w: FakeCluster, node: string, status: string) => {
    const path = `${paths.nodes()}/${node}`;
    const n = w.kube.objects.get(path) as unknown as { status: { conditions: Array<{ type: string; status: string }> } };
    n.status.conditions = [{ type: 'Ready', status }];
  };

  it('waits --timeout for it, then refuses, naming it and the two ways on, with nothing written', async () => {
    const w = await pivoted(2);
    setReady(w, 'cp-2', 'Unknown');
    await assert.rejects(runRollback(w.env, rollbackArgs({ timeoutMs: 5000 })), (e: unknown) => e instanceof PreconditionError
      && /^control-plane node cp-2 is not Ready, and rollback needs a node agent on each node it restores; nothing was changed: start it and run "kubectl selfhost rollback" again, or, if it is gone for good, remove it from the cluster \("kubeadm reset" there, then "kubectl delete node cp-2"\) and run rollback again/.test(e.message));
    assert.deepEqual(writesIn(w.kube.calls), []);
    assert.ok(w.kube.objects.has(DS));
  });

  it('goes on once the node is Ready again within --timeout', async () => {
    const w = await pivoted(2);
    setReady(w, 'cp-2', 'False');
    const orig = w.session.readSnapshot;
    let reads = 0;
    w.session.readSnapshot = async () => { if (++reads === 2) setReady(w, 'cp-2', 'True'); return orig(); };
    await runRollback(w.env, rollbackArgs());
    assert.equal(w.kube.objects.has(DS), false, 'rolled back');
  });
});

describe('rollback executor: what it restores', () => {
  it('keeps an edit made through the API; --exact then puts back the byte-identical originals', async () => {
    const w = await pivoted(1);
    await editDaemonSet(w, 'kube-scheduler', (ds) => ds.spec.template.spec.containers[0]!.command!.push('--v=3'));
    await runRollback(w.env, rollbackArgs({ components: ['kube-scheduler'] }));
    assert.match(w.files.manifests.get('cp-1/kube-scheduler.yaml')!, /--v=3/);
    const w2 = await pivoted(1);
    await runRollback(w2.env, rollbackArgs({ exact: true }));
    for (const c of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
      assert.equal(w2.files.manifests.get(`cp-1/${c}.yaml`), fixture(c), `${c} is the original, byte for byte`);
      assert.equal(JSON.stringify(w2.kube.objects.get(paths.pod('kube-system', `${c}-cp-1`))).includes('--permit-port-sharing'), false);
    }
  });

  it('--to-original puts back the pivot-time original; one older than what runs needs --force, refused before anything is written', async () => {
    const w = await pivoted(1);
    await editDaemonSet(w, 'kube-scheduler', (ds) => { ds.spec.template.spec.containers[0]!.image = 'registry.k8s.io/kube-scheduler:v1.35.0'; });
    w.kube.calls.length = 0;
    const args = rollbackArgs({ components: ['kube-scheduler'], toOriginal: true });
    await assert.rejects(runRollback(w.env, args), (e: unknown) => e instanceof PreconditionError && /would downgrade kube-scheduler from v1\.35\.0.*add --force/.test(e.message));
    assert.deepEqual(writesIn(w.kube.calls), []);
    await runRollback(w.env, { ...args, force: true });
    const restored = parseAll(w.files.manifests.get('cp-1/kube-scheduler.yaml')!)[0] as Pod;
    const command = restored.spec.containers[0]!.command!;
    assert.equal(command.at(-1), '--permit-port-sharing=true');
    restored.spec.containers[0]!.command = command.slice(0, -1);
    assert.deepEqual(restored, parseAll(fixture('kube-scheduler'))[0], 'the original (v1.34.4), with port sharing');
  });
});

describe('rollback executor: --exact waits until the original serves', () => {
  it('fails, and cleans nothing up, when the static pod restarted from the byte-identical original never becomes ready', async () => {
    const w = await pivoted(1);
    w.env.fault = (p, when) => { if (p === 'exact/kube-scheduler/cp-1' && when === 'before') w.kubelet.broken = (pod) => pod === 'kube-scheduler-cp-1'; };
    await assert.rejects(runRollback(w.env, rollbackArgs({ components: ['kube-scheduler'], exact: true })), /put back the byte-identical original kube-scheduler.*gave up after 30s waiting for the static kube-scheduler on cp-1 to serve alone; last seen: .*CrashLoopBackOff/);
    assert.equal(w.files.manifests.get('cp-1/kube-scheduler.yaml'), fixture('kube-scheduler'), 'the original was written');
    assert.equal(w.kube.calls.some((c) => c.startsWith('node cp-1: remove backup')), false, 'no cleanup after a failed restart');
    assert.equal(w.files.backups.get('cp-1/kube-scheduler.yaml'), fixture('kube-scheduler'));
    const journal = JSON.parse((w.kube.objects.get(paths.configMap('kube-system', 'kubectl-selfhost-journal')) as unknown as { data: Record<string, string> }).data['journal.json']!) as { state: string; done: string[] };
    assert.equal(journal.state, 'failed');
    assert.equal(journal.done.includes('exact/kube-scheduler/cp-1'), false);
  });

  it('is not done while the kubelet still runs the previous manifest (it notices the change only a poll later)', async () => {
    const w = await pivoted(1);
    const seenAtDone: string[][] = [];
    w.env.fault = (p, when) => {
      if (p !== 'exact/kube-scheduler/cp-1') return;
      if (when === 'before') {
        // From here the kubelet picks up a change in the manifest directory only after the next poll's sleep.
        const sync = w.files.onChange!;
        const pending = new Set<string>();
        w.files.onChange = (node) => void pending.add(node);
        const sleep = w.clock.sleep;
        w.clock.sleep = async (ms) => { await sleep(ms); for (const n of pending) sync(n); pending.clear(); };
      } else {
        seenAtDone.push((w.kube.objects.get(paths.pod('kube-system', 'kube-scheduler-cp-1')) as unknown as Pod).spec.containers[0]!.command!);
      }
    };
    assert.equal((await runRollback(w.env, rollbackArgs({ components: ['kube-scheduler'], exact: true }))).journal?.state, 'completed');
    assert.equal(seenAtDone.length, 1);
    assert.equal(seenAtDone[0]!.includes('--permit-port-sharing=true'), false, 'the step was done only once the original ran');
    assert.equal(w.files.manifests.get('cp-1/kube-scheduler.yaml'), fixture('kube-scheduler'));
  });

  it('proves the apiserver restarted from the original answers with its own process before the step is done', async () => {
    const w = await pivoted(1);
    w.env.fault = (p, when) => { if (p === 'exact/kube-apiserver/cp-1' && when === 'before') w.kubelet.deaf = (pod) => pod === 'kube-apiserver-cp-1'; };
    await assert.rejects(runRollback(w.env, rollbackArgs({ components: ['kube-apiserver'], exact: true })), /put back the byte-identical original kube-apiserver.*waiting for the static kube-apiserver on cp-1 to serve alone/);
    const c = w.kube.calls;
    assert.ok(c.slice(c.lastIndexOf('node cp-1: write kube-apiserver.yaml')).includes('PROBE cp-1'), 'probed after the original was written');
    assert.equal(w.files.manifests.get('cp-1/kube-apiserver.yaml'), fixture('kube-apiserver'));
    assert.equal(w.files.backups.get('cp-1/kube-apiserver.yaml'), fixture('kube-apiserver'), 'its backup is kept');
  });
});

const SCHEDULER_DS = paths.daemonSet('kube-system', 'kube-scheduler');
const BACKUP_CM = paths.configMap('kube-system', 'kubectl-selfhost-backup-cp-1');
const clusterCopy = (w: FakeCluster, c: string) => (w.kube.objects.get(BACKUP_CM) as { data?: Record<string, string> } | undefined)?.data?.[`${c}.yaml`];
/** What the cleanup step on cp-1 reported (its `skipped` text: what it kept). */
const cleanupSaid = (w: FakeCluster) => {
  const e = w.events.find((x) => x.type === 'step-done' && x.description.startsWith('on cp-1: remove the backups of'));
  return e?.type === 'step-done' ? e.skipped : undefined;
};
/** A static pod's container crashes after it was proven: the kubelet shows it not ready (CrashLoopBackOff), its process gone. */
const crash = (w: FakeCluster, pod: string) => {
  const p = w.kube.objects.get(paths.pod('kube-system', pod))!;
  p['status'] = { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{ ready: false, restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff' } } }] };
  w.kubelet.broken = (name) => name === pod;
  w.kubelet.procs = w.kubelet.procs.filter((x) => x.pod !== pod);
};
/** A fault hook that calls `then` when the run reaches a step (the step has not started). */
const atStep = (id: string, then: () => void) => (p: string, when: 'before' | 'after') => {
  if (p === id && when === 'before') then();
};

describe('rollback executor: cleanup never deletes the last copy of an original', () => {
  it('a scheduler DaemonSet deleted by hand, then rollback --components kube-controller-manager: both copies of the scheduler\'s original stay, and status says what to run', async () => {
    const w = await pivoted(1);
    await w.kube.delete(SCHEDULER_DS);
    assert.equal([...w.kube.objects.keys()].some((k) => k.includes('/pods/kube-scheduler')), false, 'the scheduler runs nowhere');
    assert.equal((await runRollback(w.env, rollbackArgs({ components: ['kube-controller-manager'] }))).journal?.state, 'completed');
    assert.equal(w.files.backups.get('cp-1/kube-scheduler.yaml'), fixture('kube-scheduler'), 'the node copy of the scheduler\'s original');
    assert.equal(clusterCopy(w, 'kube-scheduler'), fixture('kube-scheduler'), 'the cluster copy of the scheduler\'s original');
    assert.equal(w.files.backups.has('cp-1/kube-controller-manager.yaml'), false, 'the controller-manager runs static from its manifest again: its copies go');
    assert.equal(clusterCopy(w, 'kube-controller-manager'), undefined);
    assert.equal(w.kube.calls.includes('node cp-1: remove backups'), false, 'the backup directory is kept');
    const st = buildStatus({ snapshot: await w.session.readSnapshot(), context: 'fake', etcd: { healthy: true, detail: 'ok' }, backups: {} });
    assert.ok(st.problems.some((p) => /kube-scheduler runs nowhere on cp-1.*"kubectl selfhost rollback --components kube-scheduler"/.test(p)), st.problems.join('\n'));
    // And what status says to run brings it back from that copy.
    assert.equal((await runRollback(w.env, rollbackArgs({ components: ['kube-scheduler'] }))).journal?.state, 'completed');
    assert.ok(w.kube.objects.has(paths.pod('kube-system', 'kube-scheduler-cp-1')));
  });

  it('keeps both copies of an original whose restored static pod no longer runs when cleanup comes (it crashed after its proof)', async () => {
    const w = await pivoted(1);
    w.env.fault = atStep('cleanup/cp-1', () => crash(w, 'kube-scheduler-cp-1'));
    assert.equal((await runRollback(w.env, rollbackArgs({ components: ['kube-scheduler'] }))).journal?.state, 'completed');
    assert.equal(w.kube.objects.has(SCHEDULER_DS), false);
    assert.equal(w.files.backups.get('cp-1/kube-scheduler.yaml'), fixture('kube-scheduler'), 'the node copy');
    assert.equal(clusterCopy(w, 'kube-scheduler'), fixture('kube-scheduler'), 'the cluster copy');
    assert.equal(cleanupSaid(w), 'kept the originals of kube-scheduler (not running static)');
    assert.equal(w.kube.calls.some((c) => c.startsWith('node cp-1: remove backup')), false);
  });

  it('keeps the backup directory when it removes nothing of its own, while another component\'s original is in the cluster', async () => {
    // The apiserver is static again (no checkpointer left on the node). The scheduler's cluster copy is lost (its
    // entry deleted from the ConfigMap), so the node copy is its only one; its restored static pod crashes before
    // cleanup: nothing of the scheduler's is removed or reported kept, and only the controller-manager's original
    // (still self-hosted) in the cluster says the directory stays.
    const w = await pivoted(1);
    await runRollback(w.env, rollbackArgs({ components: ['kube-apiserver'] }));
    assert.equal(w.kube.objects.has(paths.pod('kube-system', 'kubectl-selfhost-checkpointer-cp-1')), false);
    w.kube.calls.length = 0;
    const cm = w.kube.objects.get(BACKUP_CM) as unknown as { data: Record<string, string> };
    delete cm.data['kube-scheduler.yaml'];
    w.env.fault = atStep('cleanup/cp-1', () => crash(w, 'kube-scheduler-cp-1'));
    assert.equal((await runRollback(w.env, rollbackArgs({ components: ['kube-scheduler'] }))).journal?.state, 'completed');
    assert.equal(cleanupSaid(w), 'kept the backup directory: other originals are in it');
    assert.equal(w.kube.calls.includes('node cp-1: remove backups'), false);
    assert.equal(w.files.backups.get('cp-1/kube-scheduler.yaml'), fixture('kube-scheduler'), 'the only copy of the scheduler\'s original');
    assert.equal(w.files.backups.get('cp-1/kube-controller-manager.yaml'), fixture('kube-controller-manager'));
    assert.equal(clusterCopy(w, 'kube-controller-manager'), fixture('kube-controller-manager'));
  });
});

const JOURNAL = paths.configMap('kube-system', 'kubectl-selfhost-journal');
const JUNK_JOURNALS = {
  'unparsable data': '{"apiVersion": "selfhost.k8s.io/v1alpha1", "kind": "Journal", "done": [',
  'a foreign apiVersion': JSON.stringify({ apiVersion: 'example.com/v9', kind: 'Journal', operation: 'pivot', runId: 'x', state: 'in-progress', done: [] }),
};
/** The journal ConfigMap as this tool labels it, holding `text`. */
const putJournal = (w: FakeCluster, text: string) =>
  w.kube.put(paths.configMaps('kube-system'), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kubectl-selfhost-journal', namespace: 'kube-system', labels: { 'app.kubernetes.io/managed-by': 'kubectl-selfhost' } }, data: { 'journal.json': text } } as never);
const modes = (st: Awaited<ReturnType<typeof statusOf>>) => Object.fromEntries(st.nodes[0]!.components.map((c) => [c.component, c.mode]));
const statusOf = async (w: FakeCluster) => buildStatus({ snapshot: await w.session.readSnapshot(), context: 'fake', etcd: { healthy: true, detail: 'ok' }, backups: {} });

for (const [what, text] of Object.entries(JUNK_JOURNALS)) {
  describe(`a journal ConfigMap with ${what}`, () => {
    const unreadable = /the journal \(ConfigMap kube-system\/kubectl-selfhost-journal\) cannot be read: (it is not valid JSON|unrecognised journal \(apiVersion example\.com\/v9\))/;

    it('status reports it, says rollback still works and names the fix, and does not break', async () => {
      const w = await pivoted(1);
      putJournal(w, text);
      const st = await statusOf(w);
      assert.equal(st.summary, 'degraded');
      assert.equal(statusExitCode(st), 1, 'degraded, not an error');
      assert.match(renderStatus(st, 'https://10.213.0.2:6443', new Chalk({ level: 0 })), unreadable);
      const p = st.problems.find((x) => unreadable.test(x));
      assert.ok(p, st.problems.join('\n'));
      assert.match(p, /"kubectl selfhost rollback" still works \(it reads the cluster itself\); to pivot, delete that ConfigMap/);
      assert.deepEqual(modes(st), { etcd: 'static', 'kube-apiserver': 'self-hosted', 'kube-controller-manager': 'self-hosted', 'kube-scheduler': 'self-hosted' }, 'the rest of status is read from the cluster as ever');
    });

    it('pivot refuses before any write, in one line that names the fix', async () => {
      const w = fakeCluster(1);
      putJournal(w, text);
      const err = await runPivot(w.env, opArgs()).then(() => null, (e: unknown) => e);
      assert.ok(err instanceof PreconditionError, String(err));
      assert.match(err.message, unreadable);
      assert.match(err.message, /check "kubectl selfhost status", then delete that ConfigMap or run "kubectl selfhost rollback"$/);
      assert.equal(err.message.includes('\n'), false, 'one line');
      assert.deepEqual(writesIn(w.kube.calls), []);
      assert.equal(w.files.manifests.has('cp-1/kube-apiserver.yaml'), true);
    });

    it('rollback warns, reads the cluster itself, rolls everything back and leaves a journal of its own', async () => {
      const w = await pivoted(1);
      putJournal(w, text);
      assert.equal((await runRollback(w.env, rollbackArgs())).journal?.state, 'completed');
      assert.ok(w.events.some((e) => e.type === 'warn' && unreadable.test(e.message) && /rollback reads the cluster itself and writes a new journal/.test(e.message)));
      for (const c of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) assert.equal(w.kube.objects.has(paths.daemonSet('kube-system', c)), false);
      const journal = JSON.parse((w.kube.objects.get(JOURNAL) as unknown as { data: Record<string, string> }).data['journal.json']!) as { operation: string; state: string };
      assert.deepEqual([journal.operation, journal.state], ['rollback', 'completed']);
      const st = await statusOf(w);
      assert.equal(st.problems.some((x) => unreadable.test(x)), false, 'the unreadable journal is replaced');
      assert.deepEqual(modes(st), { etcd: 'static', 'kube-apiserver': 'static', 'kube-controller-manager': 'static', 'kube-scheduler': 'static' });
    });
  });
}

describe('pivot after a killed rollback (the opposite verb converges)', () => {
  const points = ['restore/kube-apiserver/cp-1:after', 'uncheckpoint/cp-1:after', 'delete-daemonset/kube-apiserver:after', 'restore/kube-controller-manager/cp-2:after', 'delete-daemonset/kube-scheduler:after', 'cleanup/cp-1:after'];
  for (const point of points) {
    it(`rollback killed at ${point}: pivot takes over, finishes self-hosted, the API never away`, async () => {
      const w = await pivoted(2);
      w.env.fault = killAt(point);
      await assert.rejects(runRollback(w.env, rollbackArgs()), /killed at/);
      delete w.env.fault;
      const gaps = apiGaps(w);
      const r = await runPivot(w.env, opArgs());
      assert.equal(r.journal?.state, 'completed');
      assert.ok(w.events.some((e) => e.type === 'info' && /the unfinished rollback run rollback-\S+ is superseded by this pivot/.test(e.message)), 'it says it takes over the rollback');
      const s = await statusOf(w);
      assert.equal(statusExitCode(s), 0, JSON.stringify(s.problems));
      for (const n of s.nodes) for (const c of n.components.filter((x) => x.component !== 'etcd')) assert.equal(c.mode, 'self-hosted', `${n.name} ${c.component}`);
      assert.deepEqual(gaps, []);
    });
  }
});
