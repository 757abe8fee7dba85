import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PreconditionError } from '../../src/core/errors.ts';
import { newJournal } from '../../src/core/journal.ts';
import { buildStatus, statusExitCode } from '../../src/core/status.ts';
import type { NodeSnapshot, Snapshot } from '../../src/core/snapshot.ts';
import { acquireLock, LOCK_NAME } from '../../src/pivot/lock.ts';
import { checkHealthy } from '../../src/pivot/preflight.ts';
import { assertNoForeignRun } from '../../src/pivot/operation.ts';
import { paths, type Obj } from '../../src/ports/kube.ts';
import { readManifestsDir } from '../../src/sources/manifests-dir.ts';
import { fakeClock } from './fakes/clock.ts';
import { fakeKube } from './fakes/kube.ts';
import { FIXTURES } from './helpers.ts';

const leasePath = paths.lease('kube-system', LOCK_NAME);

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
});

describe('preflight', () => {
  it('refuses a not-ready static pod and an unfinished rollback', () => {
    const s = readManifestsDir(join(FIXTURES, 'kubeadm', 'v1.34.4'));
    s.nodes[0]!.staticPods.forEach((p) => { p.ready = true; });
    checkHealthy(s, ['kube-apiserver']);
    s.nodes[0]!.staticPods.find((p) => p.pod.metadata.labels?.['component'] === 'kube-apiserver')!.ready = false;
    assert.throws(() => checkHealthy(s, ['kube-apiserver']), /static kube-apiserver on local is not ready/);
    const rollback = newJournal('rollback', 'r9', [], new Date());
    assert.throws(() => assertNoForeignRun(rollback, 'pivot'), /rollback \(run r9.*did not finish/);
    assert.doesNotThrow(() => assertNoForeignRun({ ...rollback, operation: 'pivot' }, 'rollback'));
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
  });
});
