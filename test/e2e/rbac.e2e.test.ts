// Least privilege on the real bed. The RBAC that `kubectl selfhost rbac` prints is applied for impersonated users
// (kubeconfig copies whose user carries `as:`, which client-node and kubectl both honour), and:
//  - a user bound to nothing, and one bound to the roles without the Lease rules, are refused before any write,
//    with the list of what is missing (a watch on agent pods proves none was created);
//  - the read-only roles run plan and status, and pivot is refused naming only what writing needs;
//  - a user bound only to the shipped roles plans, pivots, reads status and rolls back, every file written on the
//    node 0600; node agents also run from the bed's busybox named by digest.
// The RBAC objects are deleted afterwards.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dump, loadAll } from 'js-yaml';
import {
  agentPods, BACKUPS, backupsLeft, KUBECONFIG, kubectl, MANIFESTS, modes, ourDaemonSets, REPO, restoreStaticControlPlane, selfhost, selfhostAsync,
  staticManifests, status, tryKubectl, until,
} from './helpers.ts';

const BED = join(REPO, 'scripts', 'testbed', 'testbed.sh');
const dir = mkdtempSync(join(tmpdir(), 'selfhost-rbac-e2e-'));
const rbacFiles: string[] = [];

/** A copy of the bed's admin kubeconfig whose user impersonates `user` (the admin may impersonate anyone). */
function kubeconfigAs(user: string): string {
  const cfg = JSON.parse(kubectl(['config', 'view', '--raw', '--minify', '--flatten', '-o', 'json'])) as { users: Array<{ user: Record<string, unknown> }> };
  cfg.users[0]!.user['as'] = user;
  const file = join(dir, `kubeconfig-${user}`);
  writeFileSync(file, JSON.stringify(cfg), { mode: 0o600 });
  return file;
}

function apply(name: string, yaml: string): void {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, yaml);
  rbacFiles.push(file);
  kubectl(['apply', '-f', file]);
}

const as = (kc: string, args: string[]) => selfhost(['--kubeconfig', kc, ...args]);
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
const journal = () => tryKubectl(['-n', 'kube-system', 'get', 'configmap', 'kubectl-selfhost-journal', '-o', 'jsonpath={.metadata.resourceVersion}']);
/** Nothing written: no Lease, the journal (an earlier suite's, or none) as it was, the node as kubeadm made it. */
const nothingWritten = (journalBefore: string | null) => {
  assert.equal(tryKubectl(['-n', 'kube-system', 'get', 'lease', 'kubectl-selfhost']), null, 'no Lease');
  assert.equal(journal(), journalBefore, 'the journal untouched');
  assert.deepEqual(ourDaemonSets(), []);
  assert.deepEqual(staticManifests(), ['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml']);
  assert.deepEqual(backupsLeft(), [], 'no node backup');
};

/** Runs f while watching for node agent pods: every one created in the meantime, even if deleted at once. */
async function watchingAgents<T>(f: () => Promise<T>): Promise<{ value: T; agents: string[] }> {
  const watch = spawn('kubectl', ['-n', 'kube-system', 'get', 'pods', '-l', 'app.kubernetes.io/component=node-agent', '--watch-only', '-o', 'name'], { env: { ...process.env, KUBECONFIG } });
  let seen = '';
  watch.stdout.on('data', (d: Buffer) => { seen += d.toString(); });
  await new Promise((r) => setTimeout(r, 2000));
  const value = await f();
  await new Promise((r) => setTimeout(r, 2000));
  watch.kill();
  return { value, agents: [...new Set(seen.split('\n').filter(Boolean))] };
}

/** The bed's busybox named by its manifest digest, known to containerd under that name too (as a pull by digest leaves it). */
function agentImageByDigest(): string {
  const ctr = (...args: string[]) => execFileSync('bash', [BED, 'ctr', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const line = ctr('images', 'ls', 'name==docker.io/library/busybox:1.35.0').split('\n').find((l) => l.startsWith('docker.io/library/busybox:1.35.0'));
  const digest = /\b(sha256:[a-f0-9]{64})\b/.exec(line ?? '')?.[1];
  assert.ok(digest, `no digest for docker.io/library/busybox:1.35.0 in "ctr images ls": ${line}`);
  const ref = `docker.io/library/busybox@${digest}`;
  if (!ctr('images', 'ls', '-q').split('\n').includes(ref)) ctr('images', 'tag', 'docker.io/library/busybox:1.35.0', ref);
  return ref;
}

describe('least privilege on the real kubeadm test bed', { concurrency: 1 }, () => {
  let operator = '';
  let nobody = '';
  let partial = '';
  let viewer = '';

  before(async () => {
    await until('the control plane to be healthy and static', 300_000, () => status().code === 0 && modes(status().doc)['kube-apiserver'] === 'static');
    operator = kubeconfigAs('selfhost-operator');
    nobody = kubeconfigAs('selfhost-nobody');
    partial = kubeconfigAs('selfhost-partial');
    viewer = kubeconfigAs('selfhost-viewer');
    const r = selfhost(['rbac', '--bind-user', 'selfhost-operator']);
    assert.equal(r.code, 0, r.err);
    apply('operator', r.out);
    apply('viewer', selfhost(['rbac', '--read-only', '--bind-user', 'selfhost-viewer']).out);
    // The shipped roles without their Lease rules, under other names, for a user who may do all but take the lock.
    const docs = (loadAll(selfhost(['rbac', '--bind-user', 'selfhost-partial']).out) as Array<Record<string, unknown> & { kind: string; metadata: { name: string }; rules?: Array<{ resources?: string[] }>; roleRef?: { name: string } }>).map((d) => ({
      ...d,
      metadata: { ...d.metadata, name: d.metadata.name.replace('kubectl-selfhost', 'kubectl-selfhost-e2e-no-lease') },
      ...(d.rules ? { rules: d.rules.filter((rule) => !rule.resources?.includes('leases')) } : {}),
      ...(d.roleRef ? { roleRef: { ...d.roleRef, name: 'kubectl-selfhost-e2e-no-lease' } } : {}),
    }));
    apply('partial', docs.map((d) => `---\n${dump(d)}`).join(''));
  });

  after(() => {
    for (const f of rbacFiles) tryKubectl(['delete', '--ignore-not-found', '-f', f]);
    restoreStaticControlPlane('the rbac suite');
  });

  it('a user bound to nothing is refused before any write, with everything missing and the fix in one line', async () => {
    for (const verb of ['pivot', 'rollback']) {
      const before = journal();
      const { value: r, agents } = await watchingAgents(() => selfhostAsync(['--kubeconfig', nobody, verb, '--yes']));
      assert.ok(r.code > 1, `${verb} exit ${r.code}: ${r.out}${r.err}`);
      assert.equal(r.err.trimEnd().split('\n').length, 1, r.err);
      assert.match(r.err, /^error: user "selfhost-nobody" may not list nodes; get nodes\/proxy; get \/metrics; list\/get\/create\/delete pods in kube-system; .*leases\.coordination\.k8s\.io/);
      assert.match(r.err, /"kubectl selfhost rbac --bind-user selfhost-nobody \| kubectl apply -f -"/);
      assert.deepEqual(agents, [], `${verb}: no node agent was created`);
      nothingWritten(before);
    }
  });

  it('a user who may do all but take the lock is refused before its first write (no agent pod), naming the Lease', async () => {
    const before = journal();
    const { value: r, agents } = await watchingAgents(() => selfhostAsync(['--kubeconfig', partial, 'pivot', '--yes']));
    assert.ok(r.code > 1, r.out + r.err);
    assert.match(r.err, /^error: user "selfhost-partial" may not get\/update\/delete leases\.coordination\.k8s\.io kubectl-selfhost in kube-system; create leases\.coordination\.k8s\.io in kube-system; as a cluster admin/);
    assert.deepEqual(agents, [], 'no node agent before the access review');
    nothingWritten(before);
  });

  it('the read-only roles run plan and status; pivot is refused naming only what writing needs', () => {
    const before = journal();
    const plan = as(viewer, ['plan']);
    assert.equal(plan.code, 1, plan.err);
    const s = as(viewer, ['status', '-o', 'json']);
    assert.equal(s.code, 0, s.err);
    assert.equal(JSON.parse(s.out).summary, 'healthy');
    const p = as(viewer, ['pivot', '--yes']);
    assert.ok(p.code > 1, p.out + p.err);
    assert.match(p.err, /may not .*get\/create\/delete pods in kube-system/);
    assert.doesNotMatch(p.err, /list nodes|list pods|list daemonsets/, 'what it has is not listed');
    nothingWritten(before);
  });

  it('a user bound only to the shipped roles plans, pivots, reads status and rolls back; node files stay 0600', async () => {
    const plan = as(operator, ['plan']);
    assert.equal(plan.code, 1, plan.err);
    const pivot = await selfhostAsync(['--kubeconfig', operator, 'pivot', '--yes']);
    assert.equal(pivot.code, 0, pivot.out + pivot.err);
    const s = as(operator, ['status', '-o', 'json']);
    assert.equal(s.code, 0, s.out + s.err);
    assert.deepEqual(modes(JSON.parse(s.out)), { 'kube-scheduler': 'self-hosted', 'kube-controller-manager': 'self-hosted', 'kube-apiserver': 'self-hosted', etcd: 'static' });
    assert.equal(mode(join(MANIFESTS, 'kubectl-selfhost-checkpointer.yaml')), '600');
    assert.equal(mode(BACKUPS), '700');
    assert.deepEqual(Object.fromEntries(backupsLeft().map((f) => [f, mode(join(BACKUPS, f))])), {
      'cluster-uid': '600', 'kube-apiserver.checkpoint.yaml': '600', 'kube-apiserver.yaml': '600', 'kube-controller-manager.yaml': '600', 'kube-scheduler.yaml': '600',
    });
    const rollback = await selfhostAsync(['--kubeconfig', operator, 'rollback', '--yes']);
    assert.equal(rollback.code, 0, rollback.out + rollback.err);
    const back = as(operator, ['status', '-o', 'json']);
    assert.equal(back.code, 0, back.out + back.err);
    assert.deepEqual(modes(JSON.parse(back.out)), { 'kube-scheduler': 'static', 'kube-controller-manager': 'static', 'kube-apiserver': 'static', etcd: 'static' });
    assert.deepEqual(Object.fromEntries(staticManifests().map((f) => [f, mode(join(MANIFESTS, f))])), {
      'etcd.yaml': '600', 'kube-apiserver.yaml': '600', 'kube-controller-manager.yaml': '600', 'kube-scheduler.yaml': '600',
    });
    assert.deepEqual(readdirSync(MANIFESTS).filter((f) => f.startsWith('.')), [], 'no dotfile left in the manifest directory');
    // The backup directory stays, empty: removing it would need /etc/kubernetes mounted writable.
    assert.deepEqual(backupsLeft(), []);
    assert.deepEqual(agentPods(), []);
    assert.deepEqual(ourDaemonSets(), []);
  });

  it('node agents run from an image pinned by digest (the bed\'s busybox, named by its manifest digest)', async () => {
    const image = agentImageByDigest();
    console.log(`# node agents from ${image}`);
    for (const verb of ['pivot', 'rollback']) {
      const r = await selfhostAsync(['--kubeconfig', operator, verb, '--yes', '--components', 'kube-scheduler', '--agent-image', image, '--timeout', '2m']);
      assert.equal(r.code, 0, `${verb} with --agent-image ${image}: ${r.out}${r.err}`);
    }
    assert.equal(modes(status().doc)['kube-scheduler'], 'static');
    assert.deepEqual(backupsLeft(), []);
  });
});
