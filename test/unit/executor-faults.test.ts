// Kill anywhere, against the fakes at the ports (the real bed runs a part of this matrix: test/e2e/faults/): pivot
// and rollback on one and on two control-plane nodes ended at every point the fault hook has (before and after every step,
// after every node-agent operation), then the same verb run again, and, separately, the opposite verb. After the
// kill no original is lost (while a component runs from a DaemonSet or its static manifest is gone, the node copy
// and the cluster copy are the manifest kubeadm wrote; after a pivot that took over a rollback, the manifest that
// pivot handed over); the verb run again finishes, status is healthy in the verb's mode, and no apiserver process
// was missing on any node at any moment.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildStatus, statusExitCode } from '../../src/core/status.ts';
import { runPivot } from '../../src/pivot/pivot.ts';
import { runRollback } from '../../src/pivot/rollback.ts';
import { paths } from '../../src/ports/kube.ts';
import { apiGaps, fakeCluster, fixture, killAt, opArgs, rollbackArgs, type FakeCluster } from './fakes/cluster.ts';

type Verb = 'pivot' | 'rollback';
const CONTROL_PLANE = ['kube-scheduler', 'kube-controller-manager', 'kube-apiserver'] as const;

const run = (w: FakeCluster, verb: Verb) => (verb === 'pivot' ? runPivot(w.env, opArgs()) : runRollback(w.env, rollbackArgs()));

/** Every point the fault hook fires at in a clean run of `verb` (from static for pivot, from pivoted for rollback). */
async function pointsOf(verb: Verb, nodes: number): Promise<string[]> {
  const w = fakeCluster(nodes);
  if (verb === 'rollback') await runPivot(w.env, opArgs());
  const seen: string[] = [];
  w.env.fault = (p, when) => void seen.push(`${p}:${when}`);
  await run(w, verb);
  return [...new Set(seen)];
}

const statusOf = async (w: FakeCluster) => buildStatus({ snapshot: await w.session.readSnapshot(), context: 'fake', etcd: { healthy: true, detail: 'ok' }, backups: {} });

type Originals = Map<string, string>;

/** The originals as kubeadm wrote them: node/component -> manifest. */
const kubeadmOriginals = (w: FakeCluster): Originals => new Map(w.nodes.flatMap((n) => CONTROL_PLANE.map((c) => [`${n.name}/${c}`, fixture(c, n.address)] as [string, string])));

/** The originals a run about to start keeps: the node's backup where one is left, else the static manifest in place
 * (what its backup step copies), else the earlier original. */
const originalsBefore = (w: FakeCluster, earlier: Originals): Originals => new Map([...earlier].map(([k, v]) => [k, w.files.backups.get(`${k}.yaml`) ?? w.files.manifests.get(`${k}.yaml`) ?? v]));

function assertOriginalsKept(w: FakeCluster, originals: Originals, where: string): void {
  const backup = (node: string) => (w.kube.objects.get(paths.configMap('kube-system', `kubectl-selfhost-backup-${node}`)) as { data?: Record<string, string> } | undefined)?.data ?? {};
  for (const n of w.nodes) {
    for (const c of CONTROL_PLANE) {
      const handedOver = !w.files.manifests.has(`${n.name}/${c}.yaml`) || w.kube.objects.has(paths.daemonSet('kube-system', c));
      if (!handedOver) continue;
      assert.equal(w.files.backups.get(`${n.name}/${c}.yaml`), originals.get(`${n.name}/${c}`), `${where}: the node copy of ${c}'s original on ${n.name}`);
      assert.equal(backup(n.name)[`${c}.yaml`], originals.get(`${n.name}/${c}`), `${where}: the cluster copy of ${c}'s original on ${n.name}`);
    }
  }
}

async function assertConverged(w: FakeCluster, mode: 'static' | 'self-hosted', where: string): Promise<void> {
  const st = await statusOf(w);
  assert.equal(statusExitCode(st), 0, `${where}: status healthy: ${st.problems.join('; ')}`);
  for (const n of st.nodes) for (const c of n.components.filter((x) => x.component !== 'etcd')) assert.equal(c.mode, mode, `${where}: ${c.component} on ${n.name}`);
}

const modeAfter = (v: Verb): 'static' | 'self-hosted' => (v === 'pivot' ? 'self-hosted' : 'static');
const opposite = (v: Verb): Verb => (v === 'pivot' ? 'rollback' : 'pivot');

for (const nodes of [1, 2]) for (const verb of ['pivot', 'rollback'] as const) {
  describe(`${verb} killed anywhere (fakes, ${nodes} node${nodes > 1 ? 's' : ''})`, async () => {
    const points = await pointsOf(verb, nodes);
    it('the hook has points at every step and agent operation', () => {
      assert.ok(points.length > 10 * nodes, points.join(' '));
      assert.ok(points.some((p) => p.startsWith('agent/')), 'agent operations too');
    });
    for (const point of points) {
      for (const then of [verb, opposite(verb)]) {
        it(`killed at ${point}, then ${then}`, async () => {
          const w = fakeCluster(nodes);
          if (verb === 'rollback') await runPivot(w.env, opArgs());
          const gaps = apiGaps(w);
          w.env.fault = killAt(point);
          await assert.rejects(run(w, verb), /killed at/);
          delete w.env.fault;
          const originals = kubeadmOriginals(w);
          assertOriginalsKept(w, originals, `after the kill at ${point}`);
          const before = originalsBefore(w, originals);
          const r = await run(w, then);
          assert.equal(r.journal?.state ?? 'completed', 'completed');
          if (then === 'pivot') assertOriginalsKept(w, before, `after ${then}`);
          await assertConverged(w, modeAfter(then), `after ${then}`);
          assert.deepEqual(gaps, [], 'an apiserver listened on every node at every moment');
        });
      }
    }
  });
}

describe('status of a killed run names the verbs that finish it, each once', () => {
  for (const [verb, point, fix] of [
    ['pivot', 'handover/kube-scheduler/cp-1:after', /run "kubectl selfhost pivot" again to finish it, or "kubectl selfhost rollback"$/],
    ['rollback', 'restore/kube-apiserver/cp-1:after', /run "kubectl selfhost rollback" again to finish it, or "kubectl selfhost pivot" to go back to self-hosted$/],
  ] as const) {
    it(`a killed ${verb}`, async () => {
      const w = fakeCluster(1);
      if (verb === 'rollback') await runPivot(w.env, opArgs());
      w.env.fault = killAt(point);
      await assert.rejects(run(w, verb), /killed at/);
      const st = await statusOf(w);
      const p = st.problems.find((x) => x.startsWith(`the ${verb} run`));
      assert.ok(p, st.problems.join('\n'));
      assert.match(p, fix);
    });
  }
});
