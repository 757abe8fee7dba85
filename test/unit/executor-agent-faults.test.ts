// Node-agent failures against the fakes at the ports (issue "fault injection on the real bed"): an agent image the
// node cannot pull, a full disk under the backup directory, an agent pod deleted while it runs, and Pod Security
// Admission refusing the agent pods. Each fails at once, with one line that says what to do, before any
// destructive step (every static manifest still in place, no DaemonSet pod serving alone); once the cause is gone,
// pivot converges.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SelfhostError } from '../../src/core/errors.ts';
import { buildStatus, statusExitCode } from '../../src/core/status.ts';
import { runPivot } from '../../src/pivot/pivot.ts';
import { runRollback } from '../../src/pivot/rollback.ts';
import { ApiError, paths } from '../../src/ports/kube.ts';
import { apiGaps, fakeCluster, MANIFESTS, opArgs, rollbackArgs, type FakeCluster } from './fakes/cluster.ts';
import type { AgentFault } from './fakes/agent-pods.ts';

const statusOf = async (w: FakeCluster) => buildStatus({ snapshot: await w.session.readSnapshot(), context: 'fake', etcd: { healthy: true, detail: 'ok' }, backups: {} });

async function failsCleanly(w: FakeCluster, expected: RegExp): Promise<void> {
  const gaps = apiGaps(w);
  const t0 = w.clock.now().getTime();
  const err = await runPivot(w.env, opArgs({ timeoutMs: 300_000 })).then(() => null, (e: unknown) => e as Error);
  assert.ok(err, 'pivot fails');
  const own = err instanceof SelfhostError ? err : (err.cause as Error);
  assert.ok(own instanceof SelfhostError, `the tool's own error, not a bug: ${err.stack}`);
  assert.equal(err.message.split('\n').length, 1, `one line: ${err.message}`);
  assert.match(err.message, expected);
  assert.ok(w.clock.now().getTime() - t0 < 60_000, `at once, not after --timeout (${(w.clock.now().getTime() - t0) / 1000}s)`);
  for (const n of w.nodes) for (const m of MANIFESTS) assert.ok(w.files.manifests.has(`${n.name}/${m}.yaml`), `${m}.yaml still in place on ${n.name}`);
  assert.equal([...w.files.manifests.keys()].some((k) => /\/\.|\.tmp$/.test(k)), false, 'nothing half-written');
  assert.deepEqual(gaps, []);
  assert.deepEqual(w.kube.list ? (await w.kube.list(paths.pods('kube-system'), { labelSelector: 'app.kubernetes.io/component=node-agent' })).map((p) => p.metadata.name) : [], [], 'no agent pod left');
}

async function thenConverges(w: FakeCluster): Promise<void> {
  await runPivot(w.env, opArgs());
  const st = await statusOf(w);
  assert.equal(statusExitCode(st), 0, st.problems.join('\n'));
}

describe('node-agent failures (fakes, two nodes)', () => {
  const cases: Array<[string, AgentFault, (op: string | undefined, node: string) => boolean, RegExp]> = [
    ['an agent image the node cannot pull', 'image-pull', () => true, /node cp-1 cannot pull the node agent image busybox:test \(ImagePullBackOff: Back-off pulling image "busybox:test"\); nothing was changed on the node: pass --agent-image/],
    ['a full disk under the backup directory of cp-2', 'disk-full', (op, node) => op === 'backup' && node === 'cp-2', /node agent on cp-2 failed to backup kube-scheduler\.yaml \(exit 5\): cannot back up kube-scheduler\.yaml \(disk full\?\); nothing was changed/],
    ['an agent pod deleted while it backs up', 'deleted', (op) => op === 'backup', /node agent pod kubectl-selfhost-agent-cp-1-\w+ on cp-1 was deleted before it finished \(backup kube-scheduler\.yaml\); run the command again/],
  ];
  for (const [name, fault, when, expected] of cases) {
    it(`${name}: fails at once, in one line, before any destructive step; pivot converges once it is fixed`, async () => {
      const w = fakeCluster(2);
      w.kubelet.agentFault = (op, node) => (when(op, node) ? fault : null);
      await failsCleanly(w, expected);
      w.kubelet.agentFault = () => null;
      await thenConverges(w);
    });
  }

  for (const verb of ['pivot', 'rollback'] as const) {
    it(`what a killed run left in kube-system (an agent pod, the node helper's ConfigMap) is deleted by the next ${verb}, which says so`, async () => {
      const w = fakeCluster(1);
      if (verb === 'rollback') await runPivot(w.env, opArgs());
      // The killed run's agent pod, still on record (the kubelet gave up on it: the fake would run it again).
      w.kube.objects.set(paths.pod('kube-system', 'kubectl-selfhost-agent-cp-1-abcdef'), { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'kubectl-selfhost-agent-cp-1-abcdef', namespace: 'kube-system', labels: { 'app.kubernetes.io/managed-by': 'kubectl-selfhost', 'app.kubernetes.io/component': 'node-agent' } }, spec: { nodeName: 'cp-1', containers: [{ name: 'agent', image: 'busybox:test' }] } });
      await w.kube.create(paths.configMaps('kube-system'), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kubectl-selfhost-node-helper-arm64', namespace: 'kube-system', labels: { 'app.kubernetes.io/managed-by': 'kubectl-selfhost', 'app.kubernetes.io/component': 'node-helper' } } });
      await (verb === 'pivot' ? runPivot(w.env, opArgs()) : runRollback(w.env, rollbackArgs()));
      assert.equal(await w.kube.get(paths.configMap('kube-system', 'kubectl-selfhost-node-helper-arm64')), null, 'the helper ConfigMap is gone');
      assert.deepEqual((await w.kube.list(paths.pods('kube-system'), { labelSelector: 'app.kubernetes.io/component=node-agent' })).map((p) => p.metadata.name), []);
      assert.ok(w.events.some((e) => e.type === 'info' && /^deleted 2 node agent pod\(s\) and node helper ConfigMap\(s\) left by a run that was killed$/.test(e.message)), JSON.stringify(w.events.filter((e) => e.type === 'info')));
    });
  }

  for (const verb of ['pivot', 'rollback'] as const) {
    it(`an agent pod whose deletion failed during the ${verb} (the apiserver restarting) is deleted at the end of the run, which says so`, async () => {
      const w = fakeCluster(1);
      if (verb === 'rollback') await runPivot(w.env, opArgs());
      const del = w.kube.delete;
      let refused = 0;
      w.kube.delete = async (p, o) => {
        if (refused < 2 && p.startsWith(paths.pods('kube-system')) && p.includes('/kubectl-selfhost-agent-')) {
          refused++;
          throw new ApiError(403, 'forbidden: User "kubernetes-admin" cannot delete resource "pods"', 'Forbidden');
        }
        return del(p, o);
      };
      await (verb === 'pivot' ? runPivot(w.env, opArgs()) : runRollback(w.env, rollbackArgs()));
      assert.equal(refused, 2, 'two deletions failed during the run');
      assert.deepEqual((await w.kube.list(paths.pods('kube-system'), { labelSelector: 'app.kubernetes.io/component=node-agent' })).map((p) => p.metadata.name), []);
      assert.ok(w.events.some((e) => e.type === 'info' && /^deleted 2 node agent pod\(s\) and node helper ConfigMap\(s\) that could not be deleted when their call ended$/.test(e.message)), JSON.stringify(w.events.filter((e) => e.type === 'info')));
    });
  }

  it('an agent pod that cannot be deleted even at the end: the run succeeds and warns with the command that deletes it', async () => {
    const w = fakeCluster(1);
    const del = w.kube.delete;
    w.kube.delete = async (p, o) => {
      if (p.startsWith(paths.pods('kube-system')) && p.includes('/kubectl-selfhost-agent-')) throw new ApiError(403, 'forbidden', 'Forbidden');
      return del(p, o);
    };
    await runPivot(w.env, opArgs());
    const warn = w.events.find((e): e is Extract<typeof e, { type: 'warn' }> => e.type === 'warn' && e.message.startsWith("could not delete this run's node agent pods"));
    assert.ok(warn, JSON.stringify(w.events.filter((e) => e.type === 'warn')));
    assert.match(warn.message, /run "kubectl -n kube-system delete pods,configmaps -l 'app\.kubernetes\.io\/managed-by=kubectl-selfhost,app\.kubernetes\.io\/component in \(node-agent,node-helper\)'"$/);
    const st = await statusOf(w);
    assert.equal(statusExitCode(st), 0, st.problems.join('\n'));
  });

  it('Pod Security Admission "baseline" on kube-system refuses the agent pods: one line with the server\'s reason, nothing changed', async () => {
    const w = fakeCluster(2);
    const create = w.kube.create;
    w.kube.create = async (p, body, o) => {
      if (p === paths.pods('kube-system') && String(body.metadata.name).startsWith('kubectl-selfhost-agent-')) {
        throw new ApiError(403, `pods "${String(body.metadata.name)}" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true), hostPath volumes (volumes "m", "b")`, 'Forbidden');
      }
      return create(p, body, o);
    };
    await failsCleanly(w, /^Pod Security Admission refuses the node agent pods in kube-system \(violates PodSecurity "baseline:latest": host namespaces \(hostNetwork=true\), hostPath volumes \(volumes "m", "b"\)\); nothing was changed: .*kubectl label namespace kube-system pod-security.kubernetes.io\/enforce=privileged --overwrite/);
    w.kube.create = create;
    await thenConverges(w);
  });
});
