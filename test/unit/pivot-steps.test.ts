import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Component } from '../../src/core/components.ts';
import { newJournal } from '../../src/core/journal.ts';
import { buildPlan } from '../../src/core/plan.ts';
import { runSteps } from '../../src/core/runner.ts';
import type { Snapshot } from '../../src/core/snapshot.ts';
import { parseAll } from '../../src/core/yaml.ts';
import type { DryRun, OpContext } from '../../src/pivot/context.ts';
import { pivotSteps } from '../../src/pivot/pivot-steps.ts';
import { rollbackSteps } from '../../src/pivot/rollback-steps.ts';
import { buildRollbackPlan } from '../../src/core/rollback-plan.ts';
import { serverDryRun } from '../../src/pivot/fence.ts';
import type { DaemonSet } from '../../src/core/k8s-types.ts';
import { paths, type Obj } from '../../src/ports/kube.ts';
import { parseStaticPod } from '../../src/sources/manifests-dir.ts';
import { fakeClock } from './fakes/clock.ts';
import { fakeKube } from './fakes/kube.ts';
import { fakeSockets } from './fakes/sockets.ts';
import { fakeFiles } from './fakes/nodefs.ts';
import { FIXTURES } from './helpers.ts';

const NODE = { name: 'cp-1', staticPodPath: '/etc/kubernetes/manifests' };
const text = (c: string) => readFileSync(join(FIXTURES, 'kubeadm', 'v1.34.4', `${c}.yaml`), 'utf8');
const ready = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ restartCount: 0, state: { running: { startedAt: '2026-01-02T03:00:00Z' } } }] };

/** A world where the kubelet and the DaemonSet controller react instantly to what the steps do. */
function world(c: Component, dryRun: DryRun = 'none') {
  const kube = fakeKube();
  const files = fakeFiles(kube.calls);
  const mirrorPath = paths.pod('kube-system', `${c}-${NODE.name}`);
  const putMirror = (content: string) => {
    const pod = parseAll(content)[0] as Obj & { spec: object };
    kube.objects.set(mirrorPath, { ...pod, metadata: { ...pod.metadata, name: `${c}-${NODE.name}`, annotations: { 'kubernetes.io/config.mirror': 'x' } }, spec: { ...pod.spec, nodeName: NODE.name }, status: ready });
  };
  files.manifests.set(`${NODE.name}/${c}.yaml`, text(c));
  putMirror(text(c));
  kube.put(paths.nodes(), { metadata: { name: NODE.name, labels: { 'node-role.kubernetes.io/control-plane': '' } } });
  const origWrite = files.write;
  files.write = async (node, d, f, content) => { await origWrite(node, d, f, content); putMirror(content); };
  files.onRemove = () => kube.objects.delete(mirrorPath);
  const origCreate = kube.create;
  kube.create = async (path, body, o) => {
    const out = await origCreate(path, body, o);
    if (path === paths.daemonSets('kube-system') && !o?.dryRun) {
      kube.put(paths.pods('kube-system'), { metadata: { name: `${c}-abcde`, labels: { 'app.kubernetes.io/managed-by': 'kubectl-selfhost', component: c } }, spec: { nodeName: NODE.name, containers: [{}] }, status: { ...ready, containerStatuses: [{ restartCount: 0, state: { running: { startedAt: '2026-01-02T03:01:00Z' } } }] } } as Obj);
    }
    return out;
  };
  const clock = fakeClock();
  const wait = { clock, emit: () => undefined, timeoutMs: 10_000, pollMs: 100 };
  const ctx: OpContext = { kube: dryRun === 'server' ? serverDryRun(kube) : kube, files, sockets: fakeSockets(kube.calls), probe: { startTimes: async () => [] }, clock, emit: () => undefined, wait, agentImage: 'busybox:test' };
  const snapshot: Snapshot = {
    source: { kind: 'cluster', context: 't', server: 's' },
    nodes: [{ name: NODE.name, staticPodPath: NODE.staticPodPath, ready: true, staticPods: [{ ...parseStaticPod(text(c), `${c}.yaml`, 'x'), ready: true }], daemonPods: [] }],
    daemonSets: {}, journal: null,
  };
  const r = { emit: () => undefined, journal: { save: async () => undefined }, now: () => clock.now(), dryRun };
  return { kube, files, ctx, snapshot, r, mirrorPath };
}

const relevant = (calls: string[]) => calls.filter((x) => !x.startsWith('GET') && !x.startsWith('LIST') && !x.startsWith('RAW'));

describe('pivot steps against fakes at the ports', () => {
  it('backs up, enables port sharing, labels the node (the gate), creates the DaemonSet, then hands over, in that order', async () => {
    const w = world('kube-scheduler');
    const plan = buildPlan(w.snapshot, { components: ['kube-scheduler'] }, w.ctx.clock.now());
    await runSteps(pivotSteps(plan.steps), w.ctx, w.r, newJournal('pivot', 'r', ['kube-scheduler'], w.ctx.clock.now()));
    assert.deepEqual(relevant(w.kube.calls), [
      'node cp-1: backup kube-scheduler.yaml',
      'node cp-1: read kube-scheduler.yaml',
      'CREATE /api/v1/namespaces/kube-system/configmaps/kubectl-selfhost-backup-cp-1',
      'node cp-1: read kube-scheduler.yaml',
      'node cp-1: write kube-scheduler.yaml',
      'PATCH /api/v1/nodes/cp-1 {"metadata":{"labels":{"kubectl-selfhost.dev/self-hosted-kube-scheduler":"true"}}}',
      'CREATE /apis/apps/v1/namespaces/kube-system/daemonsets/kube-scheduler',
      'node cp-1: remove kube-scheduler.yaml',
    ]);
    assert.equal(w.files.backups.get('cp-1/kube-scheduler.yaml'), text('kube-scheduler'), 'the backup is the original, before the port-sharing edit');
    assert.equal(w.files.manifests.has('cp-1/kube-scheduler.yaml'), false);
    assert.equal(w.kube.objects.has(w.mirrorPath), false);
  });

  it('where the node supports it, port sharing is set in place on the running static pod: no manifest read or write, no restart', async () => {
    const w = world('kube-apiserver');
    w.snapshot.nodes[0] = { ...w.snapshot.nodes[0]!, kernel: '6.1.0-18-amd64', arch: 'amd64' };
    const plan = buildPlan(w.snapshot, { components: ['kube-apiserver'], helperArchs: ['amd64', 'arm64'] }, w.ctx.clock.now());
    const step = plan.steps.find((x) => x.action === 'enable-port-sharing')!;
    assert.match(step.description, /set SO_REUSEPORT on the running static kube-apiserver's port 6443 on cp-1 .*no restart/);
    assert.equal(plan.warnings.some((x) => x.code === 'NoPortSharing'), false, 'no restart to warn about');
    await runSteps(pivotSteps(plan.steps).filter((x) => x.id.startsWith('port-sharing/')), w.ctx, w.r, newJournal('pivot', 'r', [], w.ctx.clock.now()));
    assert.deepEqual(relevant(w.kube.calls), ['node cp-1: share port 6443 of kube-apiserver (amd64)'], 'one node agent: the helper');
    assert.equal(w.files.manifests.get('cp-1/kube-apiserver.yaml'), text('kube-apiserver'), 'the manifest is as kubeadm wrote it');
  });

  it('run again after a reboot, the in-place step also restarts a DaemonSet pod that could not bind beside the static one', async () => {
    const w = world('kube-apiserver');
    w.snapshot.nodes[0] = { ...w.snapshot.nodes[0]!, kernel: '6.1.0', arch: 'amd64' };
    const stuck = paths.pod('kube-system', 'kube-apiserver-xyz12');
    w.kube.objects.set(stuck, { metadata: { name: 'kube-apiserver-xyz12', labels: { 'app.kubernetes.io/managed-by': 'kubectl-selfhost', component: 'kube-apiserver' } }, spec: { nodeName: 'cp-1', containers: [{}] }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{ restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff' } } }] } } as Obj);
    const plan = buildPlan(w.snapshot, { components: ['kube-apiserver'], helperArchs: ['amd64'] }, w.ctx.clock.now());
    await runSteps(pivotSteps(plan.steps).filter((x) => x.id.startsWith('port-sharing/')), w.ctx, w.r, newJournal('pivot', 'r', [], w.ctx.clock.now()));
    assert.deepEqual(relevant(w.kube.calls), ['node cp-1: share port 6443 of kube-apiserver (amd64)', `DELETE ${stuck}`]);
  });

  it('when the node refuses the in-place way, the step restarts the static pod with the flag instead, and says why', async () => {
    const w = world('kube-controller-manager');
    w.snapshot.nodes[0] = { ...w.snapshot.nodes[0]!, kernel: '6.1.0', arch: 'arm64' };
    w.ctx.sockets = fakeSockets(w.kube.calls, () => ({ done: false, why: 'not permitted: pidfd_getfd: operation not permitted' }));
    const plan = buildPlan(w.snapshot, { components: ['kube-controller-manager'], helperArchs: ['amd64', 'arm64'] }, w.ctx.clock.now());
    const outcomes: string[] = [];
    w.r.emit = ((e: { type: string; skipped?: string }) => { if (e.type === 'step-done' && e.skipped) outcomes.push(e.skipped); }) as never;
    await runSteps(pivotSteps(plan.steps).filter((x) => x.id.startsWith('port-sharing/')), w.ctx, w.r, newJournal('pivot', 'r', [], w.ctx.clock.now()));
    assert.deepEqual(relevant(w.kube.calls), ['node cp-1: share port 10257 of kube-controller (arm64)', 'node cp-1: read kube-controller-manager.yaml', 'node cp-1: write kube-controller-manager.yaml'], 'the manifest read only for the restart');
    assert.match(w.files.manifests.get('cp-1/kube-controller-manager.yaml')!, /--permit-port-sharing=true/);
    assert.deepEqual(outcomes, ['not in place (not permitted: pidfd_getfd: operation not permitted), so by restart']);
  });

  it('the plan says why a node gets the restart: an old kernel, an architecture without a helper, a build without one', () => {
    const w = world('kube-apiserver');
    for (const [facts, archs, why] of [
      [{ kernel: '5.4.0-150-generic', arch: 'amd64' }, ['amd64'], /kernel 5\.4 lacks pidfd_getfd/],
      [{ kernel: '6.1.0', arch: 'ppc64le' }, ['amd64', 'arm64'], /no node helper for ppc64le/],
      [{ kernel: '6.1.0', arch: 'amd64' }, [], /carries no node helper/],
    ] as const) {
      w.snapshot.nodes[0] = { ...w.snapshot.nodes[0]!, ...facts };
      const plan = buildPlan(w.snapshot, { components: ['kube-apiserver'], helperArchs: archs }, w.ctx.clock.now());
      assert.match(plan.steps.find((x) => x.action === 'enable-port-sharing')!.description, /the kubelet restarts it \(not in place: /);
      assert.match(plan.warnings.find((x) => x.code === 'NoPortSharing')!.message, why);
    }
  });

  it('running the same steps again changes nothing (idempotent resume)', async () => {
    const w = world('kube-controller-manager');
    const plan = buildPlan(w.snapshot, { components: ['kube-controller-manager'] }, w.ctx.clock.now());
    const steps = pivotSteps(plan.steps);
    await runSteps(steps, w.ctx, w.r, newJournal('pivot', 'r', [], w.ctx.clock.now()));
    w.kube.calls.length = 0;
    // The journal was lost: every step runs again, and finds its work done.
    const again = await runSteps(steps, w.ctx, w.r, newJournal('pivot', 'r', [], w.ctx.clock.now()));
    assert.equal(again.state, 'completed');
    assert.equal(relevant(w.kube.calls).some((x) => x.startsWith('CREATE /apis/apps')), false, 'no second DaemonSet create');
    assert.equal(relevant(w.kube.calls).some((x) => x.includes('write kube-controller-manager')), false, 'no second manifest write');
  });

  it('a backup of an earlier cycle that no longer matches what runs is replaced by what runs', async () => {
    const w = world('kube-scheduler');
    const edited = text('kube-scheduler').replace('--leader-elect=true', '--leader-elect=true\n    - --v=4');
    w.files.manifests.set('cp-1/kube-scheduler.yaml', edited);
    w.files.backups.set('cp-1/kube-scheduler.yaml', text('kube-scheduler'));
    const plan = buildPlan(w.snapshot, { components: ['kube-scheduler'] }, w.ctx.clock.now());
    await runSteps(pivotSteps(plan.steps).slice(0, 1), w.ctx, w.r, newJournal('pivot', 'r', [], w.ctx.clock.now()));
    assert.equal(w.files.backups.get('cp-1/kube-scheduler.yaml'), edited);
    const cm = w.kube.objects.get(paths.configMap('kube-system', 'kubectl-selfhost-backup-cp-1')) as Obj & { data: Record<string, string> };
    assert.equal(cm.data['kube-scheduler.yaml'], edited);
  });

  it('--dry-run=server sends the node label and the DaemonSet with dryRun and touches no node', async () => {
    const w = world('kube-scheduler', 'server');
    const plan = buildPlan(w.snapshot, { components: ['kube-scheduler'] }, w.ctx.clock.now());
    await runSteps(pivotSteps(plan.steps), w.ctx, w.r, newJournal('pivot', 'r', [], w.ctx.clock.now()));
    assert.deepEqual(relevant(w.kube.calls), [
      'PATCH /api/v1/nodes/cp-1 {"metadata":{"labels":{"kubectl-selfhost.dev/self-hosted-kube-scheduler":"true"}}} (dry-run)',
      'CREATE /apis/apps/v1/namespaces/kube-system/daemonsets/kube-scheduler (dry-run)',
    ]);
    assert.deepEqual(w.kube.objects.get(paths.node('cp-1'))!.metadata['labels'], { 'node-role.kubernetes.io/control-plane': '' }, 'the node keeps its labels');
    assert.equal(w.files.manifests.get('cp-1/kube-scheduler.yaml'), text('kube-scheduler'));
  });

  it('a hand-over that never gets a serving DaemonSet pod fails with what it saw last', async () => {
    const w = world('kube-scheduler');
    w.kube.create = async (_p, body) => body; // the DaemonSet controller never makes a pod
    const plan = buildPlan(w.snapshot, { components: ['kube-scheduler'] }, w.ctx.clock.now());
    await assert.rejects(
      runSteps(pivotSteps(plan.steps), w.ctx, w.r, newJournal('pivot', 'r', [], w.ctx.clock.now())),
      /gave up after 10s waiting for the DaemonSet pod of kube-scheduler on cp-1 to serve; last seen: no pod; no DaemonSet pod was created/,
    );
    assert.equal(w.files.manifests.has('cp-1/kube-scheduler.yaml'), true, 'the static manifest stays when the hand-over cannot happen');
  });
});

describe('steered apiserver hand-over (src/core/steering.ts)', () => {
  const steered = (kernel = '6.1.0-18-amd64') => {
    const w = world('kube-apiserver');
    w.snapshot.nodes[0] = { ...w.snapshot.nodes[0]!, kernel, arch: 'amd64' };
    return { w, plan: buildPlan(w.snapshot, { components: ['kube-apiserver'], helperArchs: ['amd64'] }, w.ctx.clock.now()) };
  };
  const steerIds = (ids: string[]) => ids.filter((id) => /^(steer|steer-new|unsteer|gate|daemonset|checkpoint|handover)\//.test(id));

  it('plans the program before the gate opens, to the new process before its checkpoint, detached after the hand-over', () => {
    const { plan } = steered();
    assert.deepEqual(steerIds(plan.steps.map((x) => x.id)), [
      'steer/kube-apiserver/cp-1', 'gate/kube-apiserver/cp-1', 'daemonset/kube-apiserver',
      'steer-new/kube-apiserver/cp-1', 'checkpoint/kube-apiserver/cp-1', 'handover/kube-apiserver/cp-1', 'unsteer/kube-apiserver/cp-1',
    ]);
    const first = plan.steps.find((x) => x.id === 'steer/kube-apiserver/cp-1')!;
    assert.match(first.description, /tcp_migrate_req=1, its value kept/);
    assert.match(plan.steps.find((x) => x.action === 'handover')!.cost, /^none expected/);
  });

  it('a kernel before 5.14 is steered without tcp_migrate_req; one without pidfd_getfd, or other components, not at all', () => {
    const old = steered('5.10.0-28-amd64').plan;
    assert.equal(old.steps.filter((x) => x.action === 'steer').every((x) => x.action === 'steer' && !x.migrate), true);
    assert.match(old.steps.find((x) => x.action === 'handover')!.cost, /may reset a few .* no tcp_migrate_req/);
    const none = steered('5.4.0-150-generic').plan;
    assert.equal(none.steps.some((x) => x.action === 'steer'), false);
    assert.match(none.steps.find((x) => x.action === 'handover')!.cost, /shared by the kernel's hash .*not steered: kernel 5\.4 lacks pidfd_getfd/);
    const w = world('kube-scheduler');
    w.snapshot.nodes[0] = { ...w.snapshot.nodes[0]!, kernel: '6.1.0', arch: 'amd64' };
    assert.equal(buildPlan(w.snapshot, { components: ['kube-scheduler'], helperArchs: ['amd64'] }, w.ctx.clock.now()).steps.some((x) => x.action === 'steer'), false);
  });

  it('runs old before the DaemonSet pod can start, new once it is ready, none at the end', async () => {
    const { w, plan } = steered();
    const ids = new Set(['steer/kube-apiserver/cp-1', 'gate/kube-apiserver/cp-1', 'daemonset/kube-apiserver', 'steer-new/kube-apiserver/cp-1', 'unsteer/kube-apiserver/cp-1']);
    await runSteps(pivotSteps(plan.steps).filter((x) => ids.has(x.id)), w.ctx, w.r, newJournal('pivot', 'r', [], w.ctx.clock.now()));
    assert.deepEqual(relevant(w.kube.calls).filter((x) => /steer|PATCH|CREATE \/apis/.test(x)), [
      'node cp-1: steer port 6443 of kube-apiserver to old, tcp_migrate_req (amd64)',
      'PATCH /api/v1/nodes/cp-1 {"metadata":{"labels":{"kubectl-selfhost.dev/self-hosted-kube-apiserver":"true"}}}',
      'CREATE /apis/apps/v1/namespaces/kube-system/daemonsets/kube-apiserver',
      'node cp-1: steer port 6443 of kube-apiserver to new, tcp_migrate_req (amd64)',
      'node cp-1: steer port 6443 of kube-apiserver to none, tcp_migrate_req (amd64)',
    ]);
  });

  it('waits for the DaemonSet pod to be ready before steering to it, and fails naming it when it never is', async () => {
    const { w, plan } = steered();
    w.kube.put(paths.pods('kube-system'), { metadata: { name: 'kube-apiserver-abcde', labels: { 'app.kubernetes.io/managed-by': 'kubectl-selfhost', component: 'kube-apiserver' } }, spec: { nodeName: 'cp-1', containers: [{}] }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{ restartCount: 0, state: { running: { startedAt: '2026-01-02T03:05:00Z' } } }] } } as Obj);
    const step = pivotSteps(plan.steps).filter((x) => x.id === 'steer-new/kube-apiserver/cp-1');
    await assert.rejects(runSteps(step, w.ctx, w.r, newJournal('pivot', 'r', [], w.ctx.clock.now())), /DaemonSet pod of kube-apiserver on cp-1 to be ready.*kube-apiserver-abcde/s);
    assert.equal(relevant(w.kube.calls).some((x) => x.includes('steer port')), false, 'not steered to a process that is not ready');
  });

  it('a static apiserver that started after its DaemonSet pod (the group\'s order unknown) is not steered: the program is detached', async () => {
    const { w, plan } = steered();
    w.kube.put(paths.pods('kube-system'), { metadata: { name: 'kube-apiserver-abcde', labels: { 'app.kubernetes.io/managed-by': 'kubectl-selfhost', component: 'kube-apiserver' } }, spec: { nodeName: 'cp-1', containers: [{}] }, status: { ...ready, containerStatuses: [{ restartCount: 0, state: { running: { startedAt: '2026-01-02T02:00:00Z' } } }] } } as Obj);
    const notes: string[] = [];
    w.r.emit = ((e: { type: string; skipped?: string }) => { if (e.type === 'step-done' && e.skipped) notes.push(e.skipped); }) as never;
    await runSteps(pivotSteps(plan.steps).filter((x) => x.id === 'steer-new/kube-apiserver/cp-1'), w.ctx, w.r, newJournal('pivot', 'r', [], w.ctx.clock.now()));
    assert.deepEqual(relevant(w.kube.calls), ['node cp-1: steer port 6443 of kube-apiserver to none, tcp_migrate_req (amd64)']);
    assert.match(notes[0]!, /^not steered: the DaemonSet pod on cp-1 did not start after the static apiserver/);
  });

  it('a node that cannot be steered is no failure: the hand-over goes on, and the step says why', async () => {
    const { w, plan } = steered();
    w.ctx.sockets = fakeSockets(w.kube.calls, undefined, () => ({ done: false, why: 'the kernel lacks it: setsockopt SO_ATTACH_REUSEPORT_CBPF' }));
    const notes: string[] = [];
    w.r.emit = ((e: { type: string; skipped?: string }) => { if (e.type === 'step-done' && e.skipped) notes.push(e.skipped); }) as never;
    const r = await runSteps(pivotSteps(plan.steps).filter((x) => x.id === 'steer/kube-apiserver/cp-1'), w.ctx, w.r, newJournal('pivot', 'r', [], w.ctx.clock.now()));
    assert.equal(r.state, 'completed');
    assert.match(notes[0]!, /^not steered \(the kernel lacks it: .*\); new connections are shared by the kernel's hash/);
  });
});

/** After a pivot of the scheduler in w: the snapshot rollback plans from. */
function pivoted(w: ReturnType<typeof world>): Snapshot {
  const ds = w.kube.objects.get(paths.daemonSet('kube-system', 'kube-scheduler')) as unknown as DaemonSet | undefined;
  const cm = w.kube.objects.get(paths.configMap('kube-system', 'kubectl-selfhost-backup-cp-1')) as (Obj & { data?: Record<string, string> }) | undefined;
  return {
    ...w.snapshot,
    nodes: [{ ...w.snapshot.nodes[0]!, address: '10.0.0.7', labels: w.kube.objects.get(paths.node('cp-1'))!.metadata['labels'] as Record<string, string>, staticPods: [], daemonPods: ds ? [{ component: 'kube-scheduler', name: 'kube-scheduler-abcde', ready: true, restarts: 0, image: ds.spec.template.spec.containers[0]!.image! }] : [] }],
    daemonSets: ds ? { 'kube-scheduler': ds } : {},
    backups: cm ? { 'cp-1': { 'kube-scheduler': cm.data!['kube-scheduler.yaml']! } } : {},
  };
}

describe('rollback steps against fakes at the ports', () => {
  it('restore: a static apiserver still shutting down (a pivot killed once it had removed the manifest) is not taken for the restored one', async () => {
    const w = world('kube-apiserver');
    w.files.manifests.delete('cp-1/kube-apiserver.yaml'); // removed by the killed pivot; its process still answers
    const at = (iso: string) => Date.parse(iso) / 1000;
    const [OLD, DS, NEW] = [at('2026-01-02T01:00:00Z'), at('2026-01-02T02:00:00Z'), at('2026-01-02T03:00:00Z')];
    const mirrorPath = paths.pod('kube-system', 'kube-apiserver-cp-1');
    const running = (iso: string) => ({ ...ready, containerStatuses: [{ restartCount: 0, state: { running: { startedAt: iso } } }] });
    let polls = 0;
    let started = false;
    w.ctx.probe = {
      startTimes: async () => {
        // Written back, the kubelet mirrors the old container (ready, shutting down) for a while, then starts the new one.
        const m = w.kube.objects.get(mirrorPath);
        if (m && !started && ++polls > 3) {
          started = true;
          w.kube.objects.set(mirrorPath, { ...m, status: running('2026-01-02T03:00:00Z') });
        }
        if (m && !started) w.kube.objects.set(mirrorPath, { ...m, status: running('2026-01-02T01:00:00Z') });
        return started ? [DS, NEW] : [OLD, DS];
      },
    };
    const s = { id: 'restore/kube-apiserver/cp-1', action: 'restore' as const, component: 'kube-apiserver' as const, node: 'cp-1', target: { ...NODE, address: '10.0.0.7' }, file: 'kube-apiserver.yaml', port: 6443, from: 'original' as const, manifest: text('kube-apiserver'), writes: 'node' as const, description: 'restore' };
    const step = rollbackSteps([s])[0]!;
    await step.run(w.ctx);
    assert.equal(started, true, 'the restore waited for a process that was not answering before the write');
    assert.ok(polls > 3);
  });

  it('delete-daemonset: a static apiserver whose mirror pod looks ready passes only on its own process, not on the DaemonSet pod\'s beside it', async () => {
    const w = world('kube-apiserver');
    const at = (iso: string) => Date.parse(iso) / 1000;
    const [OLD, DS, NEW] = [at('2026-01-02T01:00:00Z'), at('2026-01-02T02:00:00Z'), at('2026-01-02T03:00:00Z')];
    const running = (iso: string) => ({ ...ready, containerStatuses: [{ restartCount: 0, state: { running: { startedAt: iso } } }] });
    const dsPath = paths.daemonSet('kube-system', 'kube-apiserver');
    w.kube.objects.set(dsPath, { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'kube-apiserver', namespace: 'kube-system' } } as Obj);
    w.kube.put(paths.pods('kube-system'), { metadata: { name: 'kube-apiserver-abcde', labels: { 'app.kubernetes.io/managed-by': 'kubectl-selfhost', component: 'kube-apiserver' } }, spec: { nodeName: NODE.name, containers: [{}] }, status: running('2026-01-02T02:00:00Z') } as Obj);
    // The static apiserver restored earlier stopped: its mirror pod still shows it ready (started at OLD, before the
    // DaemonSet pod), and only the DaemonSet pod answers, until the kubelet has started it again.
    w.kube.objects.set(w.mirrorPath, { ...w.kube.objects.get(w.mirrorPath)!, status: running('2026-01-02T01:00:00Z') });
    let polls = 0;
    let deletedAt = -1;
    // From the fourth poll the kubelet has started it again: its process answers, and its mirror pod shows it.
    w.ctx.probe = {
      startTimes: async () => {
        if (deletedAt >= 0) return [NEW];
        if (++polls <= 3) return [DS];
        w.kube.objects.set(w.mirrorPath, { ...w.kube.objects.get(w.mirrorPath)!, status: running('2026-01-02T03:00:00Z') });
        return [DS, NEW];
      },
    };
    const origDelete = w.kube.delete;
    w.kube.delete = async (path, o) => {
      if (path === dsPath) {
        deletedAt = polls;
        w.kube.objects.delete(paths.pod('kube-system', 'kube-apiserver-abcde'));
        w.kube.objects.set(w.mirrorPath, { ...w.kube.objects.get(w.mirrorPath)!, status: running('2026-01-02T03:00:00Z') });
      }
      return origDelete(path, o);
    };
    assert.ok(OLD < DS);
    const s = { id: 'delete-daemonset/kube-apiserver', action: 'delete-daemonset' as const, component: 'kube-apiserver' as const, node: null, targets: [{ ...NODE, address: '10.0.0.7' }], port: 6443, writes: 'api' as const, description: 'delete' };
    await rollbackSteps([s])[0]!.run(w.ctx);
    assert.ok(deletedAt > 3, `the DaemonSet was deleted once the static pod's own process answered, not before (at poll ${deletedAt})`);
  });

  it('delete-daemonset: a static apiserver started seconds before the DaemonSet pod (both back after a reboot) is told apart by the nearer container start', async () => {
    const w = world('kube-apiserver');
    const at = (iso: string) => Date.parse(iso) / 1000;
    const [STATIC, DS] = [at('2026-01-02T02:36:46Z'), at('2026-01-02T02:36:49Z')];
    const running = (iso: string) => ({ ...ready, containerStatuses: [{ restartCount: 1, state: { running: { startedAt: iso } } }] });
    const dsPath = paths.daemonSet('kube-system', 'kube-apiserver');
    const dsPod = paths.pod('kube-system', 'kube-apiserver-abcde');
    w.kube.objects.set(dsPath, { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'kube-apiserver', namespace: 'kube-system' } } as Obj);
    w.kube.put(paths.pods('kube-system'), { metadata: { name: 'kube-apiserver-abcde', labels: { 'app.kubernetes.io/managed-by': 'kubectl-selfhost', component: 'kube-apiserver' } }, spec: { nodeName: NODE.name, containers: [{}] }, status: running('2026-01-02T02:36:49Z') } as Obj);
    w.kube.objects.set(w.mirrorPath, { ...w.kube.objects.get(w.mirrorPath)!, status: running('2026-01-02T02:36:46Z') });
    w.ctx.probe = { startTimes: async () => (w.kube.objects.has(dsPod) ? [STATIC, DS] : [STATIC]) };
    const origDelete = w.kube.delete;
    w.kube.delete = async (path, o) => {
      if (path === dsPath) w.kube.objects.delete(dsPod);
      return origDelete(path, o);
    };
    const t0 = w.ctx.clock.now().getTime();
    const s = { id: 'delete-daemonset/kube-apiserver', action: 'delete-daemonset' as const, component: 'kube-apiserver' as const, node: null, targets: [{ ...NODE, address: '10.0.0.7' }], port: 6443, writes: 'api' as const, description: 'delete' };
    await rollbackSteps([s])[0]!.run(w.ctx);
    assert.equal(w.kube.objects.has(dsPath), false);
    assert.equal(w.ctx.clock.now().getTime(), t0, 'deleted at the first look: the process started at 02:36:46 is the static pod\'s');
  });

  it('delete-daemonset: a DaemonSet pod that restarts during the wait is still told apart (its start is read at each look)', async () => {
    const w = world('kube-apiserver');
    const at = (iso: string) => Date.parse(iso) / 1000;
    const [DS, STATIC_SEEN, DS_AGAIN, STATIC] = ['02:00:00', '03:00:00', '03:00:08', '03:00:30'].map((t) => at(`2026-01-02T${t}Z`)) as [number, number, number, number];
    const running = (t: number) => ({ ...ready, containerStatuses: [{ restartCount: 0, state: { running: { startedAt: new Date(t * 1000).toISOString() } } }] });
    const dsPath = paths.daemonSet('kube-system', 'kube-apiserver');
    const dsPod = paths.pod('kube-system', 'kube-apiserver-abcde');
    w.kube.objects.set(dsPath, { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'kube-apiserver', namespace: 'kube-system' } } as Obj);
    w.kube.put(paths.pods('kube-system'), { metadata: { name: 'kube-apiserver-abcde', labels: { 'app.kubernetes.io/managed-by': 'kubectl-selfhost', component: 'kube-apiserver' } }, spec: { nodeName: NODE.name, containers: [{}] }, status: running(DS) } as Obj);
    // The mirror pod shows a static container started at 03:00:00 as ready, but no static process answers yet.
    w.kube.objects.set(w.mirrorPath, { ...w.kube.objects.get(w.mirrorPath)!, status: running(STATIC_SEEN) });
    let polls = 0;
    let deletedAt = -1;
    w.ctx.probe = {
      startTimes: async () => {
        if (deletedAt >= 0) return [STATIC];
        polls++;
        if (polls === 1) {
          // After this look the DaemonSet pod's container restarts (at 03:00:08, nearer to the mirror pod's 03:00:00
          // than to its old start), and its pod shows it by the next look.
          w.kube.objects.set(dsPod, { ...w.kube.objects.get(dsPod)!, status: running(DS_AGAIN) });
          return [DS];
        }
        if (polls <= 4) return [DS_AGAIN];
        w.kube.objects.set(w.mirrorPath, { ...w.kube.objects.get(w.mirrorPath)!, status: running(STATIC) });
        return [DS_AGAIN, STATIC];
      },
    };
    const origDelete = w.kube.delete;
    w.kube.delete = async (path, o) => {
      if (path === dsPath) { deletedAt = polls; w.kube.objects.delete(dsPod); }
      return origDelete(path, o);
    };
    const s = { id: 'delete-daemonset/kube-apiserver', action: 'delete-daemonset' as const, component: 'kube-apiserver' as const, node: null, targets: [{ ...NODE, address: '10.0.0.7' }], port: 6443, writes: 'api' as const, description: 'delete' };
    await rollbackSteps([s])[0]!.run(w.ctx);
    assert.ok(deletedAt > 4, `deleted only once the static pod's own process answered (at poll ${deletedAt})`);
  });

  it('uncheckpoint: a static apiserver that is not ready for a moment (a readiness probe answered by a stopping apiserver) is waited for, not refused', async () => {
    const w = world('kube-apiserver');
    const STATIC = Date.parse('2026-01-02T03:00:00Z') / 1000;
    const notReady = { ...ready, conditions: [{ type: 'Ready', status: 'False' }] };
    w.kube.objects.set(w.mirrorPath, { ...w.kube.objects.get(w.mirrorPath)!, status: notReady });
    // Ready again from the third look.
    let looks = 0;
    const get = w.kube.get;
    w.kube.get = async (p) => {
      if (p === w.mirrorPath && ++looks === 3) w.kube.objects.set(w.mirrorPath, { ...w.kube.objects.get(w.mirrorPath)!, status: ready });
      return get(p);
    };
    w.ctx.probe = { startTimes: async () => [STATIC] };
    const s = { id: 'uncheckpoint/cp-1', action: 'uncheckpoint' as const, component: 'kube-apiserver' as const, node: NODE.name, target: { ...NODE, address: '10.0.0.7' }, port: 6443, writes: 'node' as const, description: 'uncheckpoint' };
    await rollbackSteps([s])[0]!.run(w.ctx);
    assert.ok(w.kube.calls.some((c) => c.includes('remove own kubectl-selfhost-checkpointer.yaml')), w.kube.calls.join('\n'));
  });

  it('uncheckpoint: the active checkpoint\'s process is not taken for the static apiserver\'s (its mirror pod ready from an older container)', async () => {
    const w = world('kube-apiserver');
    const CHECKPOINT = Date.parse('2026-01-02T03:00:05Z') / 1000;
    w.kube.put(paths.pods('kube-system'), { metadata: { name: `kubectl-selfhost-checkpoint-kube-apiserver-${NODE.name}`, annotations: { 'kubernetes.io/config.mirror': 'x' } }, spec: { nodeName: NODE.name, containers: [{}] }, status: { ...ready, containerStatuses: [{ restartCount: 0, state: { running: { startedAt: '2026-01-02T03:00:05Z' } } }] } } as Obj);
    // Only the checkpoint answers: the static apiserver whose mirror pod shows 03:00:00 as ready is not running.
    w.ctx.probe = { startTimes: async () => [CHECKPOINT] };
    const s = { id: 'uncheckpoint/cp-1', action: 'uncheckpoint' as const, component: 'kube-apiserver' as const, node: NODE.name, target: { ...NODE, address: '10.0.0.7' }, port: 6443, writes: 'node' as const, description: 'uncheckpoint' };
    await assert.rejects(rollbackSteps([s])[0]!.run(w.ctx), /^Error: not removing the apiserver checkpoint on cp-1: the static apiserver does not serve there \(.*processes started at 03:00:05\).*run "kubectl selfhost rollback" again once it serves$/);
    assert.equal(w.kube.calls.some((c) => c.includes('remove own')), false, 'the checkpoint is kept');
  });

  it('forget-node: a gone node\'s cluster copies and checkpoint record go; one that is back is kept, with a note', async () => {
    const w = world('kube-scheduler');
    const cm = (name: string, data: Record<string, string>) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'kube-system' }, data }) as Obj;
    w.kube.put(paths.configMaps('kube-system'), cm('kubectl-selfhost-backup-cp-9', { 'kube-scheduler.yaml': 'x' }));
    w.kube.put(paths.configMaps('kube-system'), cm('kubectl-selfhost-checkpoints', { 'cp-9': '{"generation":1}', [NODE.name]: '{"generation":2}' }));
    const s = { id: 'forget-node/cp-9', action: 'forget-node' as const, component: null, node: 'cp-9', writes: 'api' as const, description: 'forget' };
    const [step] = rollbackSteps([s]);
    assert.equal(await step!.verify!(w.ctx), false);
    // Back as a control-plane node since the plan: kept.
    w.kube.put(paths.nodes(), { metadata: { name: 'cp-9', labels: { 'node-role.kubernetes.io/control-plane': '' } } } as Obj);
    assert.match(String(await step!.run(w.ctx)), /^cp-9 is a control-plane node again: its backups are kept$/);
    assert.ok(w.kube.objects.has(paths.configMap('kube-system', 'kubectl-selfhost-backup-cp-9')));
    // Gone (another node of that name without the role does not count).
    w.kube.objects.delete(`${paths.nodes()}/cp-9`);
    w.kube.put(paths.nodes(), { metadata: { name: 'cp-90', labels: { 'node-role.kubernetes.io/control-plane': '' } } } as Obj);
    assert.equal(await step!.run(w.ctx), undefined);
    assert.equal(w.kube.objects.has(paths.configMap('kube-system', 'kubectl-selfhost-backup-cp-9')), false);
    assert.deepEqual(Object.keys((w.kube.objects.get(paths.configMap('kube-system', 'kubectl-selfhost-checkpoints')) as Obj & { data: object }).data), [NODE.name]);
    assert.equal(await step!.verify!(w.ctx), true);
  });

  it('restores from what the DaemonSet runs now (an edit made through the API survives), then removes the DaemonSet and the backups', async () => {
    const w = world('kube-scheduler');
    const plan = buildPlan(w.snapshot, { components: ['kube-scheduler'] }, w.ctx.clock.now());
    await runSteps(pivotSteps(plan.steps), w.ctx, w.r, newJournal('pivot', 'r', [], w.ctx.clock.now()));
    const dsPath = paths.daemonSet('kube-system', 'kube-scheduler');
    const ds = w.kube.objects.get(dsPath) as unknown as DaemonSet;
    ds.spec.template.spec.containers[0]!.command!.push('--v=5'); // kubectl edit
    w.kube.objects.set(dsPath, ds as unknown as Obj);
    const origDelete = w.kube.delete;
    w.kube.delete = async (path, o) => {
      const gone = await origDelete(path, o);
      if (path === dsPath) w.kube.objects.delete(paths.pod('kube-system', 'kube-scheduler-abcde'));
      return gone;
    };
    w.kube.calls.length = 0;
    const rb = buildRollbackPlan(pivoted(w), { components: ['kube-scheduler'], toOriginal: false, exact: false, force: false }, w.ctx.clock.now());
    assert.deepEqual(rb.steps.map((s) => s.id), ['restore/kube-scheduler/cp-1', 'delete-daemonset/kube-scheduler', 'ungate/kube-scheduler/cp-1', 'cleanup/cp-1']);
    await runSteps(rollbackSteps(rb.steps), w.ctx, w.r, newJournal('rollback', 'r2', [], w.ctx.clock.now()));
    const restored = w.files.manifests.get('cp-1/kube-scheduler.yaml')!;
    assert.match(restored, /--permit-port-sharing=true/);
    assert.match(restored, /--v=5/, 'the edit made through the API is kept');
    assert.doesNotMatch(restored, /managed-by/, 'the restored static pod is not taken for a DaemonSet pod');
    assert.equal(w.kube.objects.has(dsPath), false);
    assert.equal(w.kube.objects.has(paths.configMap('kube-system', 'kubectl-selfhost-backup-cp-1')), false, 'backups removed at the end');
    const order = relevant(w.kube.calls);
    assert.ok(order.indexOf('node cp-1: write kube-scheduler.yaml') < order.indexOf(`DELETE ${dsPath}`), 'static back before the DaemonSet goes');
    assert.ok(order.indexOf(`DELETE ${dsPath}`) < order.findIndex((x) => x.startsWith('PATCH /api/v1/nodes/cp-1')), 'the label goes once the DaemonSet is gone');
    assert.deepEqual(w.kube.objects.get(paths.node('cp-1'))!.metadata['labels'], { 'node-role.kubernetes.io/control-plane': '' });
  });

  it('a steered restore gives new connections to the restored static pod between its write and the wait for it to serve', async () => {
    const w = world('kube-scheduler');
    await runSteps(pivotSteps(buildPlan(w.snapshot, { components: ['kube-scheduler'] }, w.ctx.clock.now()).steps), w.ctx, w.r, newJournal('pivot', 'r', [], w.ctx.clock.now()));
    const write = w.files.write;
    w.files.write = async (node, d, f, content) => {
      await write(node, d, f, content);
      const m = w.kube.objects.get(w.mirrorPath) as Obj & { status: typeof ready };
      w.kube.objects.set(w.mirrorPath, { ...m, status: { ...ready, containerStatuses: [{ restartCount: 0, state: { running: { startedAt: '2026-01-02T03:09:00Z' } } }] } } as Obj);
    };
    w.kube.calls.length = 0;
    const rb = buildRollbackPlan(pivoted(w), { components: ['kube-scheduler'], toOriginal: false, exact: false, force: false }, w.ctx.clock.now());
    const restore = rb.steps.find((x) => x.action === 'restore')!;
    await runSteps(rollbackSteps([{ ...restore, steer: { arch: 'amd64', migrate: true } } as typeof restore]), w.ctx, w.r, newJournal('rollback', 'r2', [], w.ctx.clock.now()));
    assert.deepEqual(relevant(w.kube.calls).filter((x) => /write|steer/.test(x)), ['node cp-1: write kube-scheduler.yaml', 'node cp-1: steer port 10259 of kube-apiserver to new, tcp_migrate_req (amd64)']);
  });

  it('--to-original restores the pivot-time backup, and refuses a downgrade without --force', async () => {
    const w = world('kube-scheduler');
    const plan = buildPlan(w.snapshot, { components: ['kube-scheduler'] }, w.ctx.clock.now());
    await runSteps(pivotSteps(plan.steps), w.ctx, w.r, newJournal('pivot', 'r', [], w.ctx.clock.now()));
    const s = pivoted(w);
    const same = buildRollbackPlan(s, { components: ['kube-scheduler'], toOriginal: true, exact: false, force: false }, w.ctx.clock.now());
    assert.equal(same.components[0]!.action, 'rollback');
    assert.equal(same.components[0]!.nodes[0]!.from, 'original');
    const newer = { ...s, nodes: [{ ...s.nodes[0]!, daemonPods: [{ ...s.nodes[0]!.daemonPods[0]!, image: 'registry.k8s.io/kube-scheduler:v1.99.0' }] }] };
    const refused = buildRollbackPlan(newer, { components: ['kube-scheduler'], toOriginal: true, exact: false, force: false }, w.ctx.clock.now());
    assert.equal(refused.components[0]!.action, 'blocked');
    assert.match(refused.components[0]!.reason, /would downgrade kube-scheduler from v1\.99\.0.*--force/);
    assert.equal(refused.steps.length, 0);
    const forced = buildRollbackPlan(newer, { components: ['kube-scheduler'], toOriginal: true, exact: false, force: true }, w.ctx.clock.now());
    assert.equal(forced.components[0]!.action, 'rollback');
  });

  it('never deletes a DaemonSet while the static pod does not serve, and keeps the backups of what does not run static', async () => {
    const w = world('kube-scheduler');
    const plan = buildPlan(w.snapshot, { components: ['kube-scheduler'] }, w.ctx.clock.now());
    await runSteps(pivotSteps(plan.steps), w.ctx, w.r, newJournal('pivot', 'r', [], w.ctx.clock.now()));
    const rb = buildRollbackPlan(pivoted(w), { components: ['kube-scheduler'], toOriginal: false, exact: false, force: false }, w.ctx.clock.now());
    const del = rollbackSteps(rb.steps).find((x) => x.id === 'delete-daemonset/kube-scheduler')!;
    await assert.rejects(del.run(w.ctx), /not deleting DaemonSet kube-system\/kube-scheduler: the static kube-scheduler does not serve on cp-1/);
    assert.equal(w.kube.objects.has(paths.daemonSet('kube-system', 'kube-scheduler')), true);
    const cleanup = rollbackSteps(rb.steps).find((x) => x.id === 'cleanup/cp-1')!;
    assert.match(String(await cleanup.run(w.ctx)), /kept the originals of kube-scheduler \(still self-hosted\)/);
    assert.equal(w.files.backups.has('cp-1/kube-scheduler.yaml'), true);
    assert.equal(w.kube.objects.has(paths.configMap('kube-system', 'kubectl-selfhost-backup-cp-1')), true);
  });
});
