// Executor tests of the frame pivot and rollback share (src/pivot/operation.ts) against a fake cluster: the Lease
// before the first write of any kind, the plan checked again under it, a run that loses it, and both dry runs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PreconditionError } from '../../src/core/errors.ts';
import { LockLostError, LOCK_NAME } from '../../src/pivot/lock.ts';
import { runPivot } from '../../src/pivot/pivot.ts';
import { runRollback } from '../../src/pivot/rollback.ts';
import { ApiError, DeadlineError, paths, type Obj, type WriteOptions } from '../../src/ports/kube.ts';
import { fakeCluster, fixture, opArgs, rollbackArgs, writesIn, type FakeCluster } from './fakes/cluster.ts';

const LEASE = paths.lease('kube-system', LOCK_NAME);
const LEASE_CREATE = `CREATE ${paths.leases('kube-system')}/${LOCK_NAME}`;
const SCHEDULER = { components: ['kube-scheduler' as const] };
const state = (w: FakeCluster) => JSON.stringify({ objects: [...w.kube.objects], manifests: [...w.files.manifests], backups: [...w.files.backups] });
const otherHolder = (w: FakeCluster, holder: string) => {
  const now = w.clock.now().toISOString();
  w.kube.objects.set(LEASE, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: LOCK_NAME, namespace: 'kube-system' }, spec: { holderIdentity: holder, leaseDurationSeconds: 60, acquireTime: now, renewTime: now } } as Obj);
};

describe('the Lease', () => {
  it('is taken after the access review and before the first write of any kind (node agents included)', async () => {
    const w = fakeCluster(1);
    await runPivot(w.env, opArgs(SCHEDULER));
    const c = w.kube.calls;
    const reviews = c.flatMap((x, i) => (x.startsWith('CREATE /apis/authorization.k8s.io/v1/selfsubjectaccessreviews') ? [i] : []));
    const lease = c.indexOf(LEASE_CREATE);
    const firstPod = c.findIndex((x) => x.startsWith('CREATE /api/v1/namespaces/kube-system/pods/'));
    assert.ok(reviews.length > 0 && Math.max(...reviews) < lease && lease < firstPod, `reviews ${reviews.join(',')}, Lease ${lease}, first pod ${firstPod}`);
    assert.equal(writesIn(c)[0], LEASE_CREATE, 'nothing is written before the Lease');
    assert.equal(writesIn(c).at(-1), `DELETE ${LEASE}`, 'and it is released at the end');
  });

  it('held by another live run: refused before any write, naming the holder', async () => {
    const w = fakeCluster(1);
    otherHolder(w, 'alice@elsewhere/42');
    const before = state(w);
    await assert.rejects(runPivot(w.env, opArgs(SCHEDULER)), (e: unknown) => e instanceof PreconditionError && /another run holds Lease kube-system\/kubectl-selfhost \(holder alice@elsewhere\/42/.test(e.message));
    assert.deepEqual(writesIn(w.kube.calls), []);
    assert.equal(state(w), before);
  });

  it('a run whose Lease is taken mid-run performs no further write', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const w = fakeCluster(1);
    let mark = -1;
    w.env.fault = (point, when) => {
      if (`${point}:${when}` !== 'daemonset/kube-scheduler:after') return;
      otherHolder(w, 'mallory@elsewhere/7');
      mark = w.kube.calls.length;
      t.mock.timers.tick(10_000); // the next renewal finds the Lease taken
    };
    await assert.rejects(runPivot(w.env, opArgs(SCHEDULER)), (e: unknown) => (e as Error).cause instanceof LockLostError && /was taken by holder mallory@elsewhere\/7.*stopping before the next write/.test((e as Error).message));
    assert.ok(mark > 0);
    assert.deepEqual(writesIn(w.kube.calls.slice(mark)), [], 'not even the journal, nor the release of a Lease it no longer holds');
    assert.ok(w.files.manifests.has('cp-1/kube-scheduler.yaml'), 'the hand-over did not start');
  });

  it('a run whose Lease is deleted by hand between two renewals performs no further write, and says so', async () => {
    const w = fakeCluster(1);
    let mark = -1;
    w.env.fault = (point, when) => {
      if (`${point}:${when}` !== 'daemonset/kube-scheduler:after') return;
      w.kube.objects.delete(LEASE); // no renewal runs meanwhile: the next write must find it gone by itself
      mark = w.kube.calls.length;
    };
    await assert.rejects(runPivot(w.env, opArgs(SCHEDULER)), (e: unknown) => (e as Error).cause instanceof LockLostError && /Lease kube-system\/kubectl-selfhost was deleted while this run held it; stopping before the next write/.test((e as Error).message));
    assert.ok(mark > 0);
    assert.deepEqual(writesIn(w.kube.calls.slice(mark)), [], 'no write once the Lease is gone, not even a new Lease');
    assert.ok(w.files.manifests.has('cp-1/kube-scheduler.yaml'), 'the hand-over did not start');
  });

  it('a run whose agent pod another run deleted (having taken the expired Lease) says its Lease was taken, not "run again"', async () => {
    const w = fakeCluster(1);
    w.kubelet.agentFault = (op) => {
      if (op !== 'backup') return null;
      otherHolder(w, 'bob@elsewhere/9'); // the second run took the Lease, and deleted this run's agent pod as a leftover
      return 'deleted';
    };
    await assert.rejects(runPivot(w.env, opArgs(SCHEDULER)), (e: unknown) => e instanceof LockLostError
      && /^Lease kube-system\/kubectl-selfhost was taken by holder bob@elsewhere\/9 .*stopping before the next write.*; the step under way had stopped on: .*was deleted before it finished/.test(e.message)
      && e.message.split('\n').length === 1);
  });

  it('an agent pod deleted while the Lease is still this run\'s: the agent\'s own message, to run again', async () => {
    const w = fakeCluster(1);
    w.kubelet.agentFault = (op) => (op === 'backup' ? 'deleted' : null);
    await assert.rejects(runPivot(w.env, opArgs(SCHEDULER)), (e: unknown) => !(e instanceof LockLostError) && /was deleted before it finished .*run the command again/.test((e as Error).message));
  });

  it('a run that cannot renew its Lease for too long stops before its next write', async () => {
    const w = fakeCluster(1);
    let mark = -1;
    const unreachable = () => Object.assign(new Error('no answer within --request-timeout'), { code: 'ETIMEDOUT' });
    const { get, replace } = w.kube;
    w.env.fault = (point, when) => {
      if (`${point}:${when}` !== 'daemonset/kube-scheduler:after') return;
      mark = w.kube.calls.length;
      // From here the Lease cannot be read or renewed (the API unreachable for it), for longer than the margin.
      w.kube.get = async (p) => { if (p === LEASE) { w.kube.calls.push(`GET ${p} (timed out)`); throw unreachable(); } return get(p); };
      w.kube.replace = async (p, b, o) => { if (p === LEASE) throw unreachable(); return replace(p, b, o); };
      w.clock.sleep(45_000);
    };
    await assert.rejects(runPivot(w.env, opArgs(SCHEDULER)), (e: unknown) => (e as Error).cause instanceof LockLostError && /could not renew Lease kube-system\/kubectl-selfhost for 45s/.test((e as Error).message));
    assert.ok(mark > 0);
    assert.ok(w.kube.calls.slice(mark).includes(`GET ${LEASE} (timed out)`), 'it tried to renew on the spot first');
    assert.deepEqual(writesIn(w.kube.calls.slice(mark)), [], 'no write after that, not even the journal');
    assert.ok(w.files.manifests.has('cp-1/kube-scheduler.yaml'), 'the hand-over did not start');
  });

  it('every write under the Lease carries a deadline before the Lease, as last renewed, expires', async () => {
    const w = fakeCluster(1);
    const seen: Array<{ what: string; at: number; deadline: number | undefined; renewed: number }> = [];
    const renewed = () => Date.parse((w.kube.objects.get(LEASE) as { spec?: { renewTime?: string } } | undefined)?.spec?.renewTime ?? '') || NaN;
    const { create, replace, delete: del } = w.kube;
    const note = (what: string, o?: WriteOptions) => { if (!what.includes('/leases')) seen.push({ what, at: w.clock.now().getTime(), deadline: o?.deadline, renewed: renewed() }); };
    w.kube.create = async (p, b, o) => { note(`CREATE ${p}`, o); return create(p, b, o); };
    w.kube.replace = async (p, b, o) => { note(`REPLACE ${p}`, o); return replace(p, b, o); };
    w.kube.delete = async (p, o) => { note(`DELETE ${p}`, o); return del(p, o); };
    assert.equal((await runPivot(w.env, opArgs(SCHEDULER))).journal?.state, 'completed');
    const underLease = seen.filter((s) => !Number.isNaN(s.renewed));
    assert.ok(underLease.length >= 4, JSON.stringify(seen.map((s) => s.what)));
    for (const s of underLease) {
      assert.equal(typeof s.deadline, 'number', `${s.what} is sent with a deadline`);
      assert.ok(s.deadline! > s.at, `${s.what}: the deadline is ahead of the write`);
      assert.ok(s.deadline! <= s.renewed + 60_000 - 5_000, `${s.what}: the deadline is the Lease's expiry less the drift allowed`);
    }
  });

  it('a write abandoned at its deadline (the API too slow to answer in time) stops the run as a lost Lease, in one line', async () => {
    const w = fakeCluster(1);
    const { create } = w.kube;
    w.kube.create = async (p, b, o) => {
      if (p.includes('/daemonsets')) throw new DeadlineError(`POST ${p} abandoned after 55s: its deadline passed`);
      return create(p, b, o);
    };
    await assert.rejects(runPivot(w.env, opArgs(SCHEDULER)), (e: unknown) => (e as Error).cause instanceof LockLostError
      && /abandoned after 55s: its deadline passed \(the run's Lease may have expired by then, API unreachable\?\); stopping before the next write/.test((e as Error).message));
    assert.ok(w.files.manifests.has('cp-1/kube-scheduler.yaml'), 'the hand-over did not start');
  });

  it('a run whose renewals stalled but that can renew on the spot goes on', async () => {
    const w = fakeCluster(1);
    w.env.fault = (point, when) => {
      if (`${point}:${when}` === 'daemonset/kube-scheduler:after') w.clock.sleep(45_000); // no timer renewal meanwhile
    };
    assert.equal((await runPivot(w.env, opArgs(SCHEDULER))).journal?.state, 'completed');
    assert.equal(w.files.manifests.has('cp-1/kube-scheduler.yaml'), false);
  });

  it('a renewal refused with 409 because this run\'s other renewal came first is not taken for another run taking the Lease', async () => {
    const w = fakeCluster(1);
    const { replace } = w.kube;
    let conflicts = 0;
    w.env.fault = (point, when) => {
      if (`${point}:${when}` !== 'daemonset/kube-scheduler:after') return;
      // Two renewals of this run at once (the timer's, held back by an outage, and one on the spot): the other one
      // writes first, so this one's resourceVersion is old and it gets a conflict, while the Lease is still this run's.
      w.kube.replace = async (p, b, o) => {
        if (p !== LEASE || conflicts > 0) return replace(p, b, o);
        conflicts++;
        await replace(p, b, o);
        throw new ApiError(409, `Operation cannot be fulfilled on leases.coordination.k8s.io "${LOCK_NAME}": the object has been modified`, 'Conflict');
      };
      w.clock.sleep(45_000);
    };
    assert.equal((await runPivot(w.env, opArgs(SCHEDULER))).journal?.state, 'completed');
    assert.equal(conflicts, 1);
    assert.equal(w.files.manifests.has('cp-1/kube-scheduler.yaml'), false, 'the hand-over went on');
  });

  it('a renewal refused with 409 because another run holds the Lease now: the run stops, naming it', async () => {
    const w = fakeCluster(1);
    const { replace } = w.kube;
    w.env.fault = (point, when) => {
      if (`${point}:${when}` !== 'daemonset/kube-scheduler:after') return;
      w.kube.replace = async (p, b, o) => {
        if (p !== LEASE) return replace(p, b, o);
        otherHolder(w, 'bob@elsewhere/7');
        throw new ApiError(409, 'the object has been modified', 'Conflict');
      };
      w.clock.sleep(45_000);
    };
    await assert.rejects(runPivot(w.env, opArgs(SCHEDULER)), (e: unknown) => (e as Error).cause instanceof LockLostError && /taken by .*bob@elsewhere\/7/.test((e as Error).message));
    assert.ok(w.files.manifests.has('cp-1/kube-scheduler.yaml'), 'the hand-over did not start');
  });
});

describe('the plan, checked again under the Lease', () => {
  it('a cluster changed between confirmation and the Lease: stopped, saying what changed, nothing written', async () => {
    const w = fakeCluster(1);
    const edited = fixture('kube-scheduler').replace('--leader-elect=true', '--leader-elect=true\n    - --v=4');
    const ask = async () => {
      w.files.manifests.set('cp-1/kube-scheduler.yaml', edited); // someone edits the static manifest meanwhile
      w.kubelet.sync('cp-1');
      return true;
    };
    const before = state(w);
    await assert.rejects(runPivot(w.env, opArgs({ ...SCHEDULER, confirm: { yes: false, interactive: true, ask } })),
      (e: unknown) => e instanceof PreconditionError && /the cluster changed after the plan was confirmed \(step daemonset\/kube-scheduler would now do something else\); nothing was written/.test(e.message));
    assert.deepEqual(writesIn(w.kube.calls), [LEASE_CREATE, `DELETE ${LEASE}`]);
    assert.equal(JSON.parse(state(w)).objects.length, JSON.parse(before).objects.length);
  });
});

describe('dry runs, end to end', () => {
  it('--dry-run=client sends no request that writes, and asks nothing of the nodes', async () => {
    const w = fakeCluster(1);
    const before = state(w);
    const r = await runPivot(w.env, opArgs({ dryRun: 'client' }));
    assert.equal(r.journal?.runId, 'dry-run');
    assert.ok(w.kube.calls.some((c) => c.includes('selfsubjectaccessreviews')), 'preflight asked its access reviews');
    assert.deepEqual(writesIn(w.kube.calls), []);
    assert.equal(w.kube.calls.some((c) => c.startsWith('node ')), false);
    assert.equal(state(w), before);
    assert.ok(w.events.filter((e) => e.type === 'step-done').every((e) => e.type === 'step-done' && e.skipped === 'dry run (client): not run'));
  });

  it('--dry-run=server: no Lease, no node agent, every write sent with dryRun, nothing changed', async () => {
    const w = fakeCluster(1);
    const before = state(w);
    await runPivot(w.env, opArgs({ dryRun: 'server' }));
    const writes = writesIn(w.kube.calls);
    const ds = (c: string) => `CREATE /apis/apps/v1/namespaces/kube-system/daemonsets/${c} (dry-run)`;
    // The endpoint guard sent with dryRun too (the server validates its expressions), not waited for, not removed.
    const guard = ['validatingadmissionpolicies', 'validatingadmissionpolicybindings'].map((r) => `CREATE /apis/admissionregistration.k8s.io/v1/${r}/kubectl-selfhost-keep-apiserver-endpoints (dry-run)`);
    // The node gate too, each label before its DaemonSet (the API server judges the patch; the node keeps its labels).
    const gate = (c: string) => `PATCH /api/v1/nodes/cp-1 {"metadata":{"labels":{"kubectl-selfhost.dev/self-hosted-${c}":"true"}}} (dry-run)`;
    assert.deepEqual(writes, [gate('kube-scheduler'), ds('kube-scheduler'), gate('kube-controller-manager'), ds('kube-controller-manager'), ...guard, gate('kube-apiserver'), ds('kube-apiserver')]);
    assert.equal(w.kube.calls.some((c) => c.includes('/leases') || c.startsWith('node ')), false);
    assert.equal(state(w), before);
  });

  it('rollback dry runs change nothing either', async () => {
    const w = fakeCluster(1);
    await runPivot(w.env, opArgs());
    const before = state(w);
    w.kube.calls.length = 0;
    await runRollback(w.env, rollbackArgs({ dryRun: 'client' }));
    assert.deepEqual(writesIn(w.kube.calls), []);
    assert.equal(w.kube.calls.some((c) => c.startsWith('node ')), false);
    await runRollback(w.env, rollbackArgs({ dryRun: 'server' }));
    const guard = ['validatingadmissionpolicies', 'validatingadmissionpolicybindings'].map((r) => `CREATE /apis/admissionregistration.k8s.io/v1/${r}/kubectl-selfhost-keep-apiserver-endpoints (dry-run)`);
    const ungate = (c: string) => `PATCH /api/v1/nodes/cp-1 {"metadata":{"labels":{"kubectl-selfhost.dev/self-hosted-${c}":null}}} (dry-run)`;
    assert.deepEqual(writesIn(w.kube.calls), [...guard, ...['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].flatMap((c) => [`DELETE /apis/apps/v1/namespaces/kube-system/daemonsets/${c} (dry-run)`, ungate(c)])]);
    assert.equal(w.kube.calls.some((c) => c.includes('/leases') || c.startsWith('node ')), false);
    assert.equal(state(w), before);
  });
});
