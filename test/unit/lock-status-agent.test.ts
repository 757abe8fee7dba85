import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PreconditionError } from '../../src/core/errors.ts';
import { buildStatus, statusExitCode } from '../../src/core/status.ts';
import type { NodeSnapshot, Snapshot } from '../../src/core/snapshot.ts';
import { acquireLock, holderIdentity, LEASE_DURATION_S, localProcess, LockLostError, LOCK_NAME } from '../../src/pivot/lock.ts';
import { checkHealthy, notReady } from '../../src/pivot/preflight.ts';
import { paths, type Obj } from '../../src/ports/kube.ts';
import { readManifestsDir } from '../../src/sources/manifests-dir.ts';
import { fakeClock } from './fakes/clock.ts';
import { fakeKube } from './fakes/kube.ts';
import { FIXTURES } from './helpers.ts';

const leasePath = paths.lease('kube-system', LOCK_NAME);
async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 250 && !ok(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(ok(), 'the condition never held');
}

describe('Lease lock', () => {
  it('takes a free lock, refuses one held by a live run, takes over an expired one, releases its own', async () => {
    const kube = fakeKube();
    const clock = fakeClock();
    const lock = await acquireLock(kube, clock, 'pivot');
    assert.ok(kube.objects.has(leasePath));
    await lock.release();
    assert.equal(kube.objects.has(leasePath), false);

    kube.put(paths.leases('kube-system'), { metadata: { name: LOCK_NAME }, spec: { holderIdentity: 'alice@elsewhere/1', leaseDurationSeconds: 60, acquireTime: clock.now().toISOString(), renewTime: clock.now().toISOString() } } as Obj);
    await assert.rejects(acquireLock(kube, clock, 'pivot'), (e: unknown) => e instanceof PreconditionError && /holder alice@elsewhere\/1/.test(e.message));
    clock.t += 61_000;
    const taken = await acquireLock(kube, clock, 'pivot');
    assert.notEqual((kube.objects.get(leasePath) as unknown as { spec: { holderIdentity: string } }).spec.holderIdentity, 'alice@elsewhere/1');
    await taken.release();
  });

  it('a same-host holder is dead only when its process is gone (ESRCH) or a zombie; EPERM (another Unix user) is alive', () => {
    const me = holderIdentity(4242);
    assert.equal(localProcess(me, () => { throw Object.assign(new Error('x'), { code: 'ESRCH' }); }), 'dead');
    assert.equal(localProcess(me, () => { throw Object.assign(new Error('x'), { code: 'EPERM' }); }), 'alive');
    assert.equal(localProcess(me, () => undefined, () => 'S'), 'alive');
    assert.equal(localProcess(me, () => undefined, () => null), 'alive', 'a state it cannot read is no proof of death');
    assert.equal(localProcess(me, () => undefined, () => 'Z'), 'dead', 'a zombie (exited, not yet reaped by its parent) writes nothing');
    assert.equal(localProcess(holderIdentity(process.pid)), 'alive', 'this very process, through /proc');
    assert.equal(localProcess('bob@another-host/1', () => { throw Object.assign(new Error('x'), { code: 'ESRCH' }); }), 'unknown');
  });

  it('a real zombie holder (exited, its parent never reaps it) is dead', async () => {
    // sh starts a short child and then becomes `sleep`, which never waits for it: the child, still running when sh
    // is replaced (so sh cannot have reaped it), stays a zombie once it exits.
    const parent = spawn('sh', ['-c', 'sleep 0.5 & echo $!; exec sleep 10'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number(await new Promise<string>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()))));
      const state = () => { try { return readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return ''; } };
      await until(() => state().includes(') Z'));
      assert.equal(localProcess(holderIdentity(pid)), 'dead');
      assert.equal(localProcess(holderIdentity(parent.pid!)), 'alive', 'its parent, sleeping, is alive');
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('refuses a live Lease of a same-host run it may not signal, even though the PID probe fails', async () => {
    const kube = fakeKube();
    const clock = fakeClock();
    kube.put(paths.leases('kube-system'), { metadata: { name: LOCK_NAME }, spec: { holderIdentity: holderIdentity(1), leaseDurationSeconds: 60, renewTime: clock.now().toISOString() } } as Obj);
    await assert.rejects(acquireLock(kube, clock, 'pivot', () => { throw Object.assign(new Error('x'), { code: 'EPERM' }); }), /another run holds Lease/);
    const taken = await acquireLock(kube, clock, 'pivot', () => { throw Object.assign(new Error('x'), { code: 'ESRCH' }); });
    await taken.release();
  });

  it('of two runs that race for a free Lease, the one that loses the create is refused, naming the holder', async () => {
    const kube = fakeKube();
    const clock = fakeClock();
    const create = kube.create;
    kube.create = async (p, b, o) => {
      kube.put(paths.leases('kube-system'), { metadata: { name: LOCK_NAME }, spec: { holderIdentity: 'carol@other/7', leaseDurationSeconds: 60, renewTime: clock.now().toISOString(), acquireTime: clock.now().toISOString() } } as Obj);
      return create(p, b, o);
    };
    await assert.rejects(acquireLock(kube, clock, 'pivot'), (e: unknown) => e instanceof PreconditionError && /holder carol@other\/7/.test(e.message));
  });

  it('passes the fault hook\'s point lease/renew before each renewal, and only then', async () => {
    const kube = fakeKube();
    const clock = fakeClock();
    const points: string[] = [];
    const lock = await acquireLock(kube, clock, 'pivot', undefined, (p, when) => void points.push(`${p}:${when}`));
    assert.deepEqual(points, [], 'taking the Lease is no renewal');
    await lock.assertHeld();
    assert.deepEqual(points, [], 'a recent renewal is read, not renewed');
    clock.t += (LEASE_DURATION_S - 10) * 1000;
    await lock.assertHeld();
    assert.deepEqual(points, ['lease/renew:before']);
    await lock.release();
  });

  it('stops the run\'s writes once its Lease was taken, or could not be renewed for long enough', async () => {
    const kube = fakeKube();
    const clock = fakeClock();
    const lock = await acquireLock(kube, clock, 'pivot');
    const taken = clock.t;
    assert.equal(await lock.assertHeld(), taken + (LEASE_DURATION_S - 5) * 1000, 'a write sent now must land before the Lease expires, less 5 s of clock drift');
    clock.t += (LEASE_DURATION_S - 10) * 1000; // no renewal got through: the API was unreachable...
    assert.equal(await lock.assertHeld(), clock.t + (LEASE_DURATION_S - 5) * 1000, '...and answers again: a renewal now proves the Lease still ours, and moves the deadline');
    const leaseObj = () => kube.objects.get(leasePath) as unknown as { spec: { renewTime: string; holderIdentity: string } };
    assert.equal(Date.parse(leaseObj().spec.renewTime), clock.t, 'renewed on the spot');
    clock.t += (LEASE_DURATION_S - 10) * 1000;
    const get = kube.get;
    kube.get = async (p) => { if (p === leasePath) throw Object.assign(new Error('unreachable'), { code: 'ETIMEDOUT' }); return get(p); };
    await assert.rejects(lock.assertHeld(), (e: unknown) => e instanceof LockLostError && /could not renew/.test((e as Error).message));
    kube.get = get;
    kube.objects.set(leasePath, { ...(kube.objects.get(leasePath) as Obj), spec: { ...leaseObj().spec, holderIdentity: 'dave@x/1' } } as Obj);
    await assert.rejects(lock.assertHeld(), (e: unknown) => e instanceof LockLostError && /taken by holder dave@x\/1/.test((e as Error).message));
    await lock.release();
  });
});

describe('preflight', () => {
  it('refuses a not-ready static pod', () => {
    const s = readManifestsDir(join(FIXTURES, 'kubeadm', 'v1.34.4'));
    s.nodes[0]!.staticPods.forEach((p) => { p.ready = true; });
    checkHealthy(s, ['kube-apiserver']);
    s.nodes[0]!.staticPods.find((p) => p.pod.metadata.labels?.['component'] === 'kube-apiserver')!.ready = false;
    assert.throws(() => checkHealthy(s, ['kube-apiserver']), /static kube-apiserver on local is not ready/);
  });

  it('waits out a node recovering from a reboot: a self-hosted pod not ready, the checkpoint serving', () => {
    const s = readManifestsDir(join(FIXTURES, 'kubeadm', 'v1.34.4'));
    const n = s.nodes[0]!;
    n.staticPods = n.staticPods.filter((p) => p.pod.metadata.labels?.['component'] !== 'kube-scheduler');
    n.staticPods.forEach((p) => { p.ready = true; });
    n.daemonPods = [{ component: 'kube-scheduler', name: 'kube-scheduler-x1', ready: false, restarts: 1 }];
    assert.match(notReady(s, ['kube-scheduler'])!, /self-hosted kube-scheduler on local is not ready.*describe pod kube-scheduler-x1/);
    n.daemonPods[0]!.ready = true;
    assert.equal(notReady(s, ['kube-scheduler']), null);
    n.checkpoint = { active: true, checkpointer: true };
    assert.match(notReady(s, ['kube-scheduler'])!, /the apiserver checkpoint serves on local/);
  });
});

describe('status', () => {
  const base = (): Snapshot => {
    const s = readManifestsDir(join(FIXTURES, 'kubeadm', 'v1.34.4'));
    s.nodes[0]!.staticPods.forEach((p) => { p.ready = true; });
    return s;
  };
  const healthyEtcd = { healthy: true, detail: 'ok' };

  it('healthy when static and ready, mid-way with both modes, degraded when not ready', () => {
    const s = base();
    assert.equal(buildStatus({ snapshot: s, context: 'c', etcd: healthyEtcd, backups: {} }).summary, 'healthy');
    const node: NodeSnapshot = s.nodes[0]!;
    node.daemonPods.push({ component: 'kube-scheduler', name: 'kube-scheduler-x', ready: true, restarts: 0 });
    const mid = buildStatus({ snapshot: s, context: 'c', etcd: healthyEtcd, backups: { local: ['kube-scheduler'] } });
    assert.equal(mid.summary, 'mid-way');
    assert.equal(mid.nodes[0]!.components.find((c) => c.component === 'kube-scheduler')!.mode, 'both');
    assert.equal(mid.nodes[0]!.components.find((c) => c.component === 'kube-scheduler')!.backup, true);
    assert.equal(statusExitCode(mid), 1);
    const bad = buildStatus({ snapshot: s, context: 'c', etcd: { healthy: false, detail: '500' }, backups: {} });
    assert.equal(bad.summary, 'degraded');
    assert.ok(bad.problems.some((p) => p.includes('etcd is not healthy')));
  });

  it('an endpoint guard during a run is that run\'s: not a problem (the run under way is what is said); none, or not readable: nothing said', () => {
    const s = base();
    s.endpointGuard = true;
    s.journal = { apiVersion: 'kubectl-selfhost.dev/v1alpha1', kind: 'Journal', operation: 'pivot', runId: 'r', startedAt: '', updatedAt: '', state: 'in-progress', components: ['kube-apiserver'], done: [] } as never;
    const st = buildStatus({ snapshot: s, context: 'c', etcd: healthyEtcd, backups: {} });
    assert.deepEqual(st.problems.filter((p) => p.includes('endpoint guard')), []);
    assert.ok(st.problems.some((p) => p.startsWith('the pivot run r is in-progress')));
    for (const guard of [false, undefined]) {
      const t = base();
      t.endpointGuard = guard;
      assert.equal(buildStatus({ snapshot: t, context: 'c', etcd: healthyEtcd, backups: {} }).summary, 'healthy');
    }
  });

  it('names the fix for an unreadable journal and for a component that runs nowhere but whose original is kept', () => {
    const s = base();
    s.nodes[0]!.staticPods = s.nodes[0]!.staticPods.filter((p) => p.pod.metadata.labels?.['component'] !== 'kube-scheduler');
    s.backups = { local: { 'kube-scheduler': 'kept' } };
    s.journalProblem = 'the journal cannot be read: it is not valid JSON';
    const st = buildStatus({ snapshot: s, context: 'c', etcd: healthyEtcd, backups: {} });
    assert.equal(st.summary, 'degraded');
    assert.ok(st.problems.some((p) => /kube-scheduler runs nowhere on local .*run "kubectl selfhost rollback --components kube-scheduler"/.test(p)));
    assert.ok(st.problems.some((p) => /journal cannot be read.*rollback" still works/.test(p)));
  });
});

describe('every problem status reports names the command that shows or fixes it', () => {
  const base = (): Snapshot => {
    const s = readManifestsDir(join(FIXTURES, 'kubeadm', 'v1.34.4'));
    s.nodes[0]!.staticPods.forEach((p) => { p.ready = true; });
    return s;
  };
  const without = (s: Snapshot, c: string) => { s.nodes[0]!.staticPods = s.nodes[0]!.staticPods.filter((p) => p.pod.metadata.labels?.['component'] !== c); };
  const cases: Array<[string, (s: Snapshot) => void, RegExp]> = [
    ['a static pod not ready', (s) => { s.nodes[0]!.staticPods.find((p) => p.pod.metadata.labels?.['component'] === 'kube-scheduler')!.ready = false; },
      /^kube-scheduler on local is not ready; see why with "kubectl -n kube-system describe pod kube-scheduler-local"$/],
    ['a DaemonSet pod not ready (e.g. terminating after its DaemonSet was deleted)', (s) => { without(s, 'kube-scheduler'); s.nodes[0]!.daemonPods.push({ component: 'kube-scheduler', name: 'kube-scheduler-7x2', ready: false, restarts: 0 }); },
      /^kube-scheduler on local is not ready; see why with "kubectl -n kube-system describe pod kube-scheduler-7x2"$/],
    ['a component that runs nowhere, its original kept', (s) => { without(s, 'kube-controller-manager'); s.backups = { local: { 'kube-controller-manager': 'kept' } }; },
      /run "kubectl selfhost rollback --components kube-controller-manager"/],
    ['a component that runs nowhere, no original kept', (s) => without(s, 'kube-apiserver'),
      /^kube-apiserver is missing on local, and no original of it is kept: recreate its static manifest on that node \("kubeadm init phase control-plane apiserver"\)$/],
    ['a node not Ready', (s) => { s.nodes[0]!.ready = false; }, /^node local is not Ready; see why with "kubectl describe node local"$/],
    ['a DaemonSet edit not yet observed', (s) => {
      without(s, 'kube-scheduler');
      s.nodes[0]!.daemonPods.push({ component: 'kube-scheduler', name: 'kube-scheduler-7x2', ready: true, restarts: 0 });
      s.daemonSets = { 'kube-scheduler': { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { generation: 3 }, spec: {}, status: { observedGeneration: 2 } } as never };
    }, /generation 3 not yet observed \(2\).*"kubectl -n kube-system rollout status daemonset\/kube-scheduler"/],
    ['a component both static and self-hosted outside a run', (s) => { s.nodes[0]!.daemonPods.push({ component: 'kube-scheduler', name: 'kube-scheduler-7x2', ready: true, restarts: 0 }); },
      /^kube-scheduler runs both static and self-hosted on local \(its static manifest copied back by hand\?\): run "kubectl selfhost pivot" to hand it over to its DaemonSet again, or "kubectl selfhost rollback --components kube-scheduler" to keep it static$/],
    ['the originals of a node no longer in the cluster, still kept', (s) => { s.backups = { 'cp-9': { 'kube-scheduler': 'kept' } }; },
      /^the cluster still keeps the originals of cp-9, which is no longer a control-plane node \(removed\?\): "kubectl -n kube-system delete configmap kubectl-selfhost-backup-cp-9" forgets them, and so does a full "kubectl selfhost rollback"$/],
    ['an endpoint guard left by a run that stopped (no run under way)', (s) => { s.endpointGuard = true; },
      /^the endpoint guard \(ValidatingAdmissionPolicy kubectl-selfhost-keep-apiserver-endpoints\) was left in place by a run that stopped: .*run "kubectl selfhost rollback" or "kubectl selfhost pivot" to remove it$/],
  ];
  for (const [name, spoil, expected] of cases) {
    it(name, () => {
      const s = base();
      spoil(s);
      const st = buildStatus({ snapshot: s, context: 'c', etcd: { healthy: true, detail: 'ok' }, backups: {} });
      assert.notEqual(st.summary, 'healthy');
      assert.ok(st.problems.length > 0);
      assert.ok(st.problems.some((p) => expected.test(p)), JSON.stringify(st.problems));
      for (const p of st.problems) assert.match(p, /"(kubectl|kubeadm) [^"]+"/, `names a command: ${p}`);
    });
  }
  it('etcd not healthy', () => {
    const st = buildStatus({ snapshot: base(), context: 'c', etcd: { healthy: false, detail: 'apiserver /readyz/etcd: 500' }, backups: {} });
    assert.ok(st.problems.some((p) => /^etcd is not healthy: apiserver \/readyz\/etcd: 500; see its checks with "kubectl get --raw \/readyz\/etcd\?verbose"$/.test(p)), JSON.stringify(st.problems));
  });
});

describe('status of reboot recovery', () => {
  const hosted = (checkpoint: NodeSnapshot['checkpoint'], generation: number): Snapshot => ({
    source: { kind: 'cluster', context: 'c', server: 's' },
    nodes: [{ name: 'cp-1', staticPodPath: '/etc/kubernetes/manifests', ready: true, staticPods: [], checkpoint,
      daemonPods: (['kube-scheduler', 'kube-controller-manager', 'kube-apiserver'] as const).map((component) => ({ component, name: `${component}-x`, ready: true, restarts: 0 })) }],
    daemonSets: { 'kube-apiserver': { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { generation }, spec: {} } as never },
    journal: null,
  });
  const etcd = { healthy: true, detail: 'ok' };

  it('healthy with an inactive checkpoint matching the DaemonSet', () => {
    const s = buildStatus({ snapshot: hosted({ recordedGeneration: 2, active: false, checkpointer: true }, 2), context: 'c', etcd, backups: {} });
    assert.deepEqual(s.nodes[0]!.checkpoint, { exists: true, active: false, matchesDaemonSet: true, recordedGeneration: 2 });
    assert.equal(s.summary, 'healthy');
  });

  it('names drift, a missing checkpoint and an active one, with the command that fixes it', () => {
    const drift = buildStatus({ snapshot: hosted({ recordedGeneration: 1, active: false, checkpointer: true }, 2), context: 'c', etcd, backups: {} });
    assert.equal(drift.nodes[0]!.checkpoint.matchesDaemonSet, false);
    assert.ok(drift.problems.some((p) => /edited since; run "kubectl selfhost pivot" to re-sync it/.test(p)));
    assert.equal(statusExitCode(drift), 1);
    const none = buildStatus({ snapshot: hosted({ active: false, checkpointer: false }, 2), context: 'c', etcd, backups: {} });
    assert.ok(none.problems.some((p) => /no reboot recovery on cp-1/.test(p)));
    const active = buildStatus({ snapshot: hosted({ recordedGeneration: 2, active: true, checkpointer: true }, 2), context: 'c', etcd, backups: {} });
    assert.ok(active.problems.some((p) => /checkpoint is active on cp-1/.test(p)));
    const orphan = hosted({ recordedGeneration: 2, active: true, checkpointer: true }, 2);
    orphan.daemonSets = {};
    const gone = buildStatus({ snapshot: orphan, context: 'c', etcd, backups: {} });
    assert.ok(gone.problems.some((p) => /checkpoint serves on cp-1 but the kube-apiserver DaemonSet is gone .*"kubectl selfhost rollback --components kube-apiserver"/.test(p)), gone.problems.join('\n'));
    assert.ok(!gone.problems.some((p) => /recovering from a reboot/.test(p)), 'no advice to wait for a DaemonSet pod that cannot come');
  });

  it('is degraded, naming the fix, when the image the checkpoint starts is no longer on the node', () => {
    const image = 'registry.k8s.io/kube-apiserver:v1.34.4';
    const s = hosted({ recordedGeneration: 2, recordedImage: image, active: false, checkpointer: true }, 2);
    s.nodes[0]!.images = [image];
    assert.equal(buildStatus({ snapshot: s, context: 'c', etcd: { healthy: true, detail: '' }, backups: {} }).summary, 'healthy');
    s.nodes[0]!.images = ['registry.k8s.io/kube-apiserver:v1.35.0'];
    const st = buildStatus({ snapshot: s, context: 'c', etcd: { healthy: true, detail: '' }, backups: {} });
    assert.equal(st.summary, 'degraded');
    assert.ok(st.problems.some((p) => /starts registry.k8s.io\/kube-apiserver:v1.34.4, which is not on the node.*run "kubectl selfhost pivot" to re-sync/.test(p)));
  });
});
