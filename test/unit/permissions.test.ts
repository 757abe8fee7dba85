// The permissions table, the RBAC generated from it, and preflight's access check, against a fake authorizer that
// evaluates RBAC rules as the API server does (test/unit/fakes/rbac.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PreconditionError } from '../../src/core/errors.ts';
import { newJournal } from '../../src/core/journal.ts';
import { accessFor, describeAccess, PERMISSIONS, TOOL_VERBS } from '../../src/core/permissions.ts';
import { rbacObjects, rbacYaml } from '../../src/core/rbac.ts';
import { parseAll } from '../../src/core/yaml.ts';
import { acquireLock } from '../../src/pivot/lock.ts';
import { ACCESS_RECHECKS_MS, checkAccess, NEEDED_ACCESS } from '../../src/pivot/preflight.ts';
import { deleteClusterBackup, journalStore, recordCheckpoint, writeClusterBackup } from '../../src/pivot/store.ts';
import { agentNodeFiles } from '../../src/ports/agent.ts';
import { ApiError, paths, type Obj } from '../../src/ports/kube.ts';
import { nodeDirs } from '../../src/ports/nodefs.ts';
import { readCluster } from '../../src/sources/cluster.ts';
import { fakeClock } from './fakes/clock.ts';
import { fakeKube } from './fakes/kube.ts';
import { authorizingKube, grantsOf, type Grants } from './fakes/rbac.ts';
import { FIXTURES, REPO } from './helpers.ts';

const full = grantsOf(rbacObjects({ readOnly: false, subjects: [] }));
const readOnly = grantsOf(rbacObjects({ readOnly: true, subjects: [] }));
const noRechecks: number[] = [];
const wait = () => ({ clock: fakeClock(), emit: () => undefined, timeoutMs: 10_000, pollMs: 100 });
const without = (g: Grants, resource: string): Grants => ({ cluster: g.cluster.filter((r) => !r.resources?.includes(resource)), kubeSystem: g.kubeSystem.filter((r) => !r.resources?.includes(resource)) });

describe('the permissions table', () => {
  it('gives plan and status reads only (and the access review), and each operation what it writes', () => {
    const verbsOf = (v: (typeof TOOL_VERBS)[number]) => new Set(accessFor([v]).filter((a) => !('resource' in a && a.resource === 'selfsubjectaccessreviews')).map((a) => a.verb));
    assert.deepEqual([...verbsOf('plan')].sort(), ['get', 'list']);
    assert.deepEqual([...verbsOf('status')].sort(), ['get', 'list']);
    const pivot = accessFor(['pivot']).map((a) => describeAccess([a]));
    const rollback = accessFor(['rollback']).map((a) => describeAccess([a]));
    assert.ok(pivot.includes('create daemonsets.apps in kube-system') && !rollback.includes('create daemonsets.apps in kube-system'));
    assert.ok(rollback.includes('delete daemonsets.apps kube-scheduler in kube-system') && !pivot.includes('delete daemonsets.apps kube-scheduler in kube-system'));
  });

  it('says why of every row, and limits to object names wherever RBAC can (never create or list)', () => {
    for (const p of PERMISSIONS) {
      assert.ok(p.why.length > 10, `${p.verb}: a reason`);
      if ('names' in p && p.names) assert.ok(!['create', 'list'].includes(p.verb), `${p.verb} ${p.resource}: RBAC cannot limit it by name`);
      if ('resource' in p && ['leases', 'configmaps'].includes(p.resource) && !['create', 'list'].includes(p.verb)) assert.ok(p.names, `${p.verb} ${p.resource} is limited to this tool's objects`);
    }
  });

  it('asks about the backup ConfigMap of each node once the nodes are known, and about the fixed names before', () => {
    const names = (nodes?: string[]) => accessFor(['status'], nodes).filter((a) => 'resource' in a && a.resource === 'configmaps' && a.verb === 'get').map((a) => ('name' in a ? a.name : undefined));
    assert.deepEqual(names(['cp-1', 'cp-2']), ['kubectl-selfhost-journal', 'kubectl-selfhost-checkpoints', 'kubectl-selfhost-backup-cp-1', 'kubectl-selfhost-backup-cp-2']);
    assert.deepEqual(names(), ['kubectl-selfhost-journal', 'kubectl-selfhost-checkpoints']);
  });

  it('describes denials in a short list: verbs on the same objects joined, then objects with the same verbs', () => {
    const leases = accessFor(['pivot']).filter((a) => 'resource' in a && a.resource === 'leases');
    assert.equal(describeAccess(leases), 'get/update/delete leases.coordination.k8s.io kubectl-selfhost in kube-system; create leases.coordination.k8s.io in kube-system');
    assert.equal(describeAccess(accessFor(['status'], ['a', 'b']).filter((a) => 'resource' in a && a.resource === 'configmaps' && a.verb === 'get')), 'get configmaps kubectl-selfhost-journal,kubectl-selfhost-checkpoints,kubectl-selfhost-backup-a,kubectl-selfhost-backup-b in kube-system');
    assert.equal(describeAccess([{ verb: 'get', url: '/metrics' }, { verb: 'list', group: '', resource: 'nodes' }]), 'get /metrics; list nodes');
  });
});

describe('the shipped RBAC', () => {
  it('deploy/rbac.yaml is what "kubectl selfhost rbac" prints (regenerate: node src/main.ts rbac > deploy/rbac.yaml)', () => {
    assert.equal(readFileSync(join(REPO, 'deploy', 'rbac.yaml'), 'utf8'), rbacYaml({ readOnly: false, subjects: [] }));
  });

  it('a ClusterRole for nodes, URLs and reviews; a Role in kube-system for the rest, limited to names where it can', () => {
    const [clusterRole, role] = rbacObjects({ readOnly: false, subjects: [] }) as Array<{ kind: string; metadata: { namespace?: string }; rules: Array<Record<string, string[]>> }>;
    assert.equal(clusterRole!.kind, 'ClusterRole');
    assert.deepEqual(clusterRole!.rules.map((r) => r['resources']?.[0] ?? r['nonResourceURLs']!.join(',')), ['nodes', 'nodes/proxy', '/readyz/etcd,/metrics', 'selfsubjectaccessreviews', 'namespaces', 'validatingadmissionpolicies', 'validatingadmissionpolicybindings', 'validatingadmissionpolicies', 'validatingadmissionpolicybindings']);
    // The endpoint guard: created by name, and touched afterwards by that name only.
    for (const resource of ['validatingadmissionpolicies', 'validatingadmissionpolicybindings']) {
      assert.deepEqual(clusterRole!.rules.find((r) => r['resources']?.[0] === resource && r['resourceNames']), { apiGroups: ['admissionregistration.k8s.io'], resources: [resource], resourceNames: ['kubectl-selfhost-keep-apiserver-endpoints'], verbs: ['get', 'update', 'delete'] });
    }
    assert.equal(role!.kind, 'Role');
    assert.equal(role!.metadata.namespace, 'kube-system');
    assert.deepEqual(role!.rules.find((r) => r['resources']?.[0] === 'leases' && r['resourceNames']), { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['kubectl-selfhost'], verbs: ['get', 'update', 'delete'] });
    assert.deepEqual(role!.rules.find((r) => r['resources']?.[0] === 'daemonsets' && r['resourceNames'])!['resourceNames'], ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']);
    assert.ok(!JSON.stringify(role).includes('"*"'), 'no wildcards');
    assert.ok(!JSON.stringify(role).includes('secrets'), 'no secrets');
  });

  it('binds both roles to each given user and group', () => {
    const objects = rbacObjects({ readOnly: false, subjects: [{ kind: 'User', name: 'alice' }, { kind: 'Group', name: 'ops' }] }) as Array<{ kind: string; metadata: { name: string }; roleRef?: { kind: string; name: string }; subjects?: Array<{ kind: string; name: string }> }>;
    assert.deepEqual(objects.slice(2).map((o) => [o.kind, o.metadata.name, o.roleRef!.kind, o.subjects![0]!.kind, o.subjects![0]!.name]), [
      ['ClusterRoleBinding', 'kubectl-selfhost:user:alice', 'ClusterRole', 'User', 'alice'],
      ['RoleBinding', 'kubectl-selfhost:user:alice', 'Role', 'User', 'alice'],
      ['ClusterRoleBinding', 'kubectl-selfhost:group:ops', 'ClusterRole', 'Group', 'ops'],
      ['RoleBinding', 'kubectl-selfhost:group:ops', 'Role', 'Group', 'ops'],
    ]);
  });
});

describe('preflight against the shipped RBAC', () => {
  for (const verb of TOOL_VERBS) {
    it(`${verb}: every access it needs is granted`, async () => {
      await checkAccess(authorizingKube(fakeKube(), full), fakeClock(), accessFor([verb]), noRechecks);
      await checkAccess(authorizingKube(fakeKube(), full), fakeClock(), accessFor([verb], ['cp-1']), noRechecks);
    });
  }

  it('the read-only roles are enough for plan and status, and pivot is refused with all it lacks and the fix, in one line', async () => {
    for (const v of ['plan', 'status'] as const) await checkAccess(authorizingKube(fakeKube(), readOnly), fakeClock(), accessFor([v]), noRechecks);
    const err = await checkAccess(authorizingKube(fakeKube(), readOnly), fakeClock(), accessFor(['pivot']), noRechecks).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof PreconditionError);
    assert.equal(err.message.split('\n').length, 1);
    assert.match(err.message, /^user "selfhost-operator" may not /);
    assert.match(err.message, /may not get \/metrics; get\/create\/delete pods in kube-system; get pods\/log in kube-system; list events in kube-system; get\/update daemonsets\.apps kube-apiserver,kube-controller-manager,kube-scheduler in kube-system; create daemonsets.apps in kube-system; create configmaps in kube-system; update configmaps kubectl-selfhost-journal,kubectl-selfhost-checkpoints in kube-system; update\/delete configmaps kubectl-selfhost-node-helper-amd64,kubectl-selfhost-node-helper-arm64 in kube-system; create validatingadmissionpolicies\.admissionregistration\.k8s\.io; create validatingadmissionpolicybindings\.admissionregistration\.k8s\.io; update\/delete validatingadmissionpolicies\.admissionregistration\.k8s\.io kubectl-selfhost-keep-apiserver-endpoints; update\/delete validatingadmissionpolicybindings\.admissionregistration\.k8s\.io kubectl-selfhost-keep-apiserver-endpoints; get\/update\/delete leases/);
    assert.match(err.message, /"kubectl selfhost rbac --bind-user selfhost-operator \| kubectl apply -f -"/);
    assert.doesNotMatch(err.message, /list nodes|list pods/, 'only what is missing');
    await assert.rejects(checkAccess(authorizingKube(fakeKube(), readOnly, "Ann O'Neil"), fakeClock(), accessFor(['pivot']), noRechecks), /--bind-user 'Ann O'\\''Neil' \| kubectl apply/);
  });

  it('names exactly the rule that was taken away', async () => {
    const kube = authorizingKube(fakeKube(), without(full, 'leases'));
    await assert.rejects(checkAccess(kube, fakeClock(), NEEDED_ACCESS, noRechecks),
      /may not get\/update\/delete leases\.coordination\.k8s\.io kubectl-selfhost in kube-system; create leases\.coordination\.k8s\.io in kube-system; as a cluster admin/);
  });

  it('the node label is asked about per node, once the nodes are known (never before: nothing names them yet)', () => {
    assert.equal(accessFor(['pivot']).some((a) => 'resource' in a && a.resource === 'nodes' && a.verb === 'patch'), false);
    assert.deepEqual(accessFor(['pivot'], ['cp-1', 'cp-2']).filter((a) => a.verb === 'patch'), [
      { verb: 'patch', group: '', resource: 'nodes', name: 'cp-1' },
      { verb: 'patch', group: '', resource: 'nodes', name: 'cp-2' },
    ]);
    assert.equal(accessFor(['status'], ['cp-1']).some((a) => a.verb === 'patch'), false, 'not for the read-only verbs');
  });

  it('roles limited to the nodes\' backups pass preflight before and after the nodes are known, and refuse other ConfigMaps', async () => {
    const narrow = grantsOf(rbacObjects({ readOnly: false, subjects: [], nodes: ['cp-1'] }));
    await checkAccess(authorizingKube(fakeKube(), narrow), fakeClock(), NEEDED_ACCESS, noRechecks);
    await checkAccess(authorizingKube(fakeKube(), narrow), fakeClock(), accessFor(['pivot', 'rollback'], ['cp-1']), noRechecks);
    // A node the roles do not name (joined since they were generated): its label and its backups, both refused.
    await assert.rejects(checkAccess(authorizingKube(fakeKube(), narrow), fakeClock(), accessFor(['rollback'], ['cp-2']), noRechecks), /may not patch nodes cp-2; get\/update\/delete configmaps kubectl-selfhost-backup-cp-2 in kube-system/);
    await assert.rejects(authorizingKube(fakeKube(), narrow).get(paths.configMap('kube-system', 'kubeadm-config')), /403/);
  });

  it('a user who may not even ask is told that, once', async () => {
    const kube = fakeKube();
    let asked = 0;
    kube.create = async (path) => {
      asked++;
      throw new ApiError(403, `POST ${path}: 403 Forbidden`, 'Forbidden');
    };
    await assert.rejects(checkAccess(kube, fakeClock(), NEEDED_ACCESS, noRechecks), /: your user may not create selfsubjectaccessreviews\.authorization\.k8s\.io; .*--bind-user NAME/);
    assert.equal(asked, NEEDED_ACCESS.length + 1, 'every review once, then the whoami');
  });

  it('re-asks a denial before it counts, and one that clears (an apiserver still syncing its RBAC) does not', async () => {
    let calls = 0;
    const flaky = authorizingKube(fakeKube(), full);
    const create = flaky.create.bind(flaky);
    flaky.create = async (path, body, o) => {
      const out = await create(path, body, o) as Obj & { status?: { allowed?: boolean } };
      if (path.endsWith('/selfsubjectaccessreviews') && ++calls <= NEEDED_ACCESS.length) out.status = { allowed: false };
      return out as never;
    };
    const clock = fakeClock();
    const t0 = clock.t;
    await checkAccess(flaky, clock);
    assert.equal(calls, 2 * NEEDED_ACCESS.length, 'everything asked once, then the denied ones once more');
    assert.equal(clock.t - t0, ACCESS_RECHECKS_MS[0]);
    const denied = authorizingKube(fakeKube(), without(full, 'events'));
    const c2 = fakeClock();
    const t1 = c2.t;
    await assert.rejects(checkAccess(denied, c2), /may not list events in kube-system;/);
    assert.equal(c2.t - t1, ACCESS_RECHECKS_MS.reduce((a, b) => a + b), 'a lasting denial is asked about again before it counts');
  });
});

describe('what the code sends is what the roles grant', () => {
  const node = { metadata: { name: 'cp-1', labels: { 'node-role.kubernetes.io/control-plane': '' } }, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
  const scheduler = parseAll(readFileSync(join(FIXTURES, 'kubeadm', 'v1.34.4', 'kube-scheduler.yaml'), 'utf8'))[0] as Obj & { spec: object };
  const mirror = { ...scheduler, metadata: { ...scheduler.metadata, name: 'kube-scheduler-cp-1', annotations: { 'kubernetes.io/config.mirror': 'x' } }, spec: { ...scheduler.spec, nodeName: 'cp-1' } };
  const cluster = () => {
    const kube = fakeKube();
    kube.put(paths.nodes(), node as Obj);
    kube.put(paths.pods('kube-system'), mirror as Obj);
    kube.rawAnswers.set(paths.nodeConfigz('cp-1'), { status: 200, body: '{"kubeletconfig":{"staticPodPath":"/etc/kubernetes/static"}}' });
    return kube;
  };

  it('plan and status read the cluster with the read-only roles', async () => {
    const kube = authorizingKube(cluster(), readOnly);
    const s = await readCluster(kube, { context: 'c', server: 's' });
    assert.equal(s.nodes[0]!.staticPodPath, '/etc/kubernetes/static', 'configz was readable');
    await kube.get(paths.configMap('kube-system', 'kubectl-selfhost-backup-cp-1'));
    assert.deepEqual(kube.refused, []);
  });

  it('the lock, the records and the node agents, with the roles limited to the node', async () => {
    const kube = authorizingKube(cluster(), grantsOf(rbacObjects({ readOnly: false, subjects: [], nodes: ['cp-1'] })));
    const lock = await acquireLock(kube, fakeClock(), 'pivot');
    await journalStore(kube, wait()).save(newJournal('pivot', 'r', [], new Date(0)));
    await journalStore(kube, wait()).save(newJournal('pivot', 'r', [], new Date(0)));
    await writeClusterBackup(kube, wait(), 'cp-1', 'kube-scheduler', 'kind: Pod\n');
    await writeClusterBackup(kube, wait(), 'cp-1', 'kube-scheduler', 'kind: Pod\nx: 1\n');
    await recordCheckpoint(kube, wait(), 'cp-1', { generation: 3, image: 'i' });
    await recordCheckpoint(kube, wait(), 'cp-1', null);
    await deleteClusterBackup(kube, wait(), 'cp-1', 'kube-scheduler');
    const inner = fakeKube();
    const create = inner.create.bind(inner);
    inner.create = async (p, body, o) => create(p, { ...body, status: { phase: 'Succeeded', containerStatuses: [{ state: { terminated: { exitCode: 0 } } }] } }, o);
    inner.raw = async () => ({ status: 200, body: 'kind: Pod\n' });
    const agents = authorizingKube(inner, grantsOf(rbacObjects({ readOnly: false, subjects: [] })));
    await agentNodeFiles({ kube: agents, wait: wait(), image: 'busybox:x' }).read('cp-1', nodeDirs('/etc/kubernetes/manifests'), 'kube-scheduler.yaml');
    await lock.release();
    assert.deepEqual([...kube.refused, ...agents.refused], []);
  });

  it('the read-only roles refuse every write', async () => {
    const kube = authorizingKube(cluster(), readOnly);
    await assert.rejects(acquireLock(kube, fakeClock(), 'pivot'), /403/);
    await assert.rejects(kube.delete(paths.configMap('kube-system', 'kubectl-selfhost-backup-cp-1')), /403/);
    await assert.rejects(agentNodeFiles({ kube, wait: wait(), image: 'busybox:x' }).read('cp-1', nodeDirs('/etc/kubernetes/manifests'), 'kube-scheduler.yaml'), /403/);
    assert.deepEqual(kube.refused, ['get leases.coordination.k8s.io kubectl-selfhost in kube-system', 'delete configmaps kubectl-selfhost-backup-cp-1 in kube-system', 'create pods in kube-system']);
  });
});
