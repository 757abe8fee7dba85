// Hand-deleted and hand-edited objects (issue "fault injection on the real bed"), each on a self-hosted control
// plane: every DaemonSet, the journal, a journal with junk in it, the backup ConfigMap, the node backup directory,
// an endpoint guard left with no journal,
// the Lease in the middle of a run, and an original manifest copied back by hand while its DaemonSet runs (as
// kubeadm made it, and with --permit-port-sharing). Then
// status, pivot, rollback --components <one> and rollback: nothing crashes (no "internal error", every failure one
// line), status names a command for every problem, no original's last copy is lost, and rollback converges.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { guardObjects } from '../../../src/core/endpoint-guard.ts';
import { BACKUPS, BIN, Fatal, KUBECONFIG, kubectl, MANIFESTS, selfhost, tryKubectl, until } from '../helpers.ts';
import { startProber } from '../prober.ts';
import { apiGap, assertConverged, healthyBed, leftovers, printTable, readOriginals, record, worstListenerGap, type Originals } from './invariants.ts';
import { clusterCopy, NODE, nodeCopy, processState, startListenerSampler, type Component } from './node.ts';
import { spawn } from 'node:child_process';

const noCrash = (r: { code: number; err: string }, what: string) => {
  assert.doesNotMatch(r.err, /internal error/, `${what}: ${r.err}`);
  if (r.code > 1) assert.equal(r.err.trim().split('\n').length, 1, `${what} fails with one line: ${r.err}`);
};

/** Whatever status says, it says it without crashing, and every problem names a command. */
function statusNamesFixes(what: string): { code: number; problems: string[] } {
  const r = selfhost(['status', '-o', 'json']);
  noCrash(r, `status ${what}`);
  assert.ok(r.code <= 1, `status ${what} exits 0 or 1 (got ${r.code}): ${r.err}`);
  const doc = JSON.parse(r.out) as { problems: string[] };
  for (const p of doc.problems) assert.match(p, /kubectl selfhost|kubectl /, `${what}: the problem names a command: ${p}`);
  return { code: r.code, problems: doc.problems };
}

/** The original of each component exists in at least one copy, and whichever copy exists is the original. */
function noOriginalLost(originals: Originals, what: string, components: Component[]): void {
  for (const c of components) {
    const copies = [nodeCopy(c), clusterCopy(c), readStatic(c)].filter((x): x is string => x !== null);
    assert.ok(copies.length > 0, `${what}: some copy of ${c}'s original is left`);
  }
}
const readStatic = (c: Component): string | null => { try { return readFileSync(join(MANIFESTS, `${c}.yaml`), 'utf8'); } catch { return null; } };

interface Case {
  name: string;
  component: Component | null;
  edit(): Promise<void> | void;
  rollbackOne?: Component;
  /** What status must say right after the edit (one of its problems), and that the next pivot leaves it healthy. */
  statusSays?: RegExp;
}

/** An object created as a hand would, through kubectl. */
function createObject(obj: object): void {
  const file = join(mkdtempSync(join(tmpdir(), 'hand-edit-')), 'object.json');
  writeFileSync(file, JSON.stringify(obj));
  kubectl(['create', '-f', file]);
}

/** The scheduler's manifest written back by hand (0600, as kubeadm makes it), and time for the kubelet to start it. */
async function copyBackScheduler(text: string): Promise<void> {
  writeFileSync(join(MANIFESTS, 'kube-scheduler.yaml'), text, { mode: 0o600 });
  await new Promise((r) => setTimeout(r, 20_000));
}

const deleteDs = (c: Component) => () => void kubectl(['-n', 'kube-system', 'delete', 'daemonset', c, '--wait=true']);
const CASES: Case[] = [
  { name: 'the scheduler DaemonSet deleted', component: 'kube-scheduler', edit: deleteDs('kube-scheduler'), rollbackOne: 'kube-scheduler' },
  { name: 'the controller-manager DaemonSet deleted', component: 'kube-controller-manager', edit: deleteDs('kube-controller-manager'), rollbackOne: 'kube-controller-manager' },
  { name: 'the apiserver DaemonSet deleted (the checkpoint serves)', component: 'kube-apiserver', edit: async () => {
    kubectl(['-n', 'kube-system', 'delete', 'daemonset', 'kube-apiserver', '--wait=false']);
    await until('the checkpoint to serve', 600_000, () => tryKubectl(['get', '--raw', '/readyz']) === 'ok' && (tryKubectl(['-n', 'kube-system', 'get', 'daemonset', 'kube-apiserver']) === null));
  }, rollbackOne: 'kube-apiserver' },
  { name: 'the journal deleted', component: null, edit: () => void kubectl(['-n', 'kube-system', 'delete', 'configmap', 'kubectl-selfhost-journal']) },
  { name: 'junk in the journal', component: null, edit: () => void kubectl(['-n', 'kube-system', 'patch', 'configmap', 'kubectl-selfhost-journal', '--type=merge', '-p', JSON.stringify({ data: { 'journal.json': '{"apiVersion": "x", junk' } })]) },
  {
    name: 'the backup ConfigMap deleted', component: null, edit: () => {
      // By name: the node's cluster copies live in one ConfigMap (src/pivot/store.ts), which must be there to delete.
      const out = kubectl(['-n', 'kube-system', 'delete', 'configmap', `kubectl-selfhost-backup-${NODE}`]);
      assert.match(out, /deleted/, out);
    },
    statusSays: new RegExp(`the cluster copy of kube-apiserver's original from ${NODE} is missing .*run "kubectl selfhost pivot"`),
  },
  { name: 'the node backup directory deleted', component: null, edit: () => rmSync(BACKUPS, { recursive: true, force: true }) },
  {
    // What a run killed while the guard was in force leaves, once its journal is gone too: the tool's own objects,
    // for the node's address.
    name: 'an endpoint guard left in place, the journal deleted', component: null, edit: () => {
      const ip = kubectl(['get', 'node', NODE, '-o', 'jsonpath={.status.addresses[?(@.type=="InternalIP")].address}']).trim();
      const { policy, binding } = guardObjects([ip]);
      createObject({ apiVersion: 'v1', kind: 'List', items: [policy, binding] });
      kubectl(['-n', 'kube-system', 'delete', 'configmap', 'kubectl-selfhost-journal']);
    },
    statusSays: /^the endpoint guard \(ValidatingAdmissionPolicy kubectl-selfhost-keep-apiserver-endpoints\) was left in place by a run that stopped: .*"kubectl selfhost pivot" to remove it$/,
  },
  // kubeadm's file has no --permit-port-sharing: its static pod cannot bind beside the DaemonSet pod. With the flag
  // (as rollback writes it back), both processes share the port and serve.
  { name: 'the scheduler\'s original copied back by hand beside its DaemonSet', component: 'kube-scheduler', edit: () => copyBackScheduler(nodeCopy('kube-scheduler')!), rollbackOne: 'kube-scheduler' },
  { name: 'the scheduler\'s original with --permit-port-sharing copied back by hand beside its DaemonSet', component: 'kube-scheduler', edit: async () => {
    const original = nodeCopy('kube-scheduler')!;
    const shared = original.replace(/^([ \t]*)- kube-scheduler\n/m, '$1- kube-scheduler\n$1- --permit-port-sharing=true\n');
    assert.notEqual(shared, original, 'the flag went in after the command');
    await copyBackScheduler(shared);
  }, rollbackOne: 'kube-scheduler' },
];

describe('hand-deleted and hand-edited objects, on the real kubeadm test bed', { concurrency: 1 }, () => {
  before(async () => {
    await healthyBed();
  });
  after(() => {
    printTable('hand edits: results');
    selfhost(['rollback', '--yes']);
  });

  for (const c of CASES) {
    it(`${c.name}: status, pivot, rollback${c.rollbackOne ? ` --components ${c.rollbackOne}` : ''} and rollback cope`, async () => {
      const r0 = selfhost(['rollback', '--yes']);
      assert.equal(r0.code, 0, r0.out + r0.err);
      await assertConverged('static', 'before the case');
      const originals = readOriginals();
      const p = selfhost(['pivot', '--yes']);
      assert.equal(p.code, 0, p.out + p.err);
      await assertConverged('self-hosted', 'before the edit');
      const sampler = startListenerSampler();
      const prober = startProber(KUBECONFIG, c.name);
      let outcome = 'failed';
      try {
        await c.edit();
        const s = statusNamesFixes(`after ${c.name}`);
        const pv = selfhost(['pivot', '--yes']);
        noCrash(pv, 'pivot');
        if (c.statusSays) {
          assert.equal(s.code, 1, `status after ${c.name} reports it`);
          assert.ok(s.problems.some((p) => c.statusSays!.test(p)), `status after ${c.name}: ${s.problems.join('; ')}`);
          assert.equal(pv.code, 0, `pivot after ${c.name}: ${pv.out.slice(-1500)}${pv.err}`);
          const again = statusNamesFixes(`after pivot, after ${c.name}`);
          assert.deepEqual([again.code, again.problems], [0, []], 'pivot wrote the cluster copies again');
        }
        noOriginalLost(originals, `after pivot (exit ${pv.code})`, ['kube-scheduler', 'kube-controller-manager', 'kube-apiserver']);
        let one = null as null | { code: number };
        if (c.rollbackOne) {
          const r1 = selfhost(['rollback', '--yes', '--components', c.rollbackOne]);
          noCrash(r1, `rollback --components ${c.rollbackOne}`);
          one = r1;
          noOriginalLost(originals, 'after the partial rollback', ['kube-scheduler', 'kube-controller-manager', 'kube-apiserver']);
          statusNamesFixes('after the partial rollback');
        }
        const r = selfhost(['rollback', '--yes']);
        noCrash(r, 'rollback');
        assert.equal(r.code, 0, `rollback converges: ${r.out.slice(-2000)}${r.err}`);
        await assertConverged('static', 'after rollback');
        outcome = `status ${s.code} (${s.problems.length} problem(s)); pivot ${pv.code}${one ? `; rollback --components ${one.code}` : ''}; rollback 0`;
      } catch (err) {
        // Said at once, not only in the reporter's summary at the end of the file.
        outcome = `failed: ${String((err as Error).message).split('\n')[0]!.slice(0, 300)}`;
        throw err;
      } finally {
        const probe = await prober.stop();
        const gaps = await sampler.stop();
        console.log(`# listener gaps of ${c.name} (ms, longest per component): ${JSON.stringify(gaps)}`);
        record({ fault: 'hand edit', verb: 'status/pivot/rollback', point: c.name, outcome, apiGapS: apiGap(probe), listenerGapS: worstListenerGap(gaps), left: outcome.startsWith('failed') ? '(not checked)' : leftovers() });
      }
    });
  }

  it('the records of a control-plane node no longer in the cluster: status lists it, and rollback forgets it', async () => {
    const r0 = selfhost(['rollback', '--yes']);
    assert.equal(r0.code, 0, r0.out + r0.err);
    await assertConverged('static', 'before the case');
    let outcome = 'failed';
    try {
      // What a node removed after pivot (kubeadm reset, kubectl delete node) leaves: its cluster copies.
      const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kubectl-selfhost-backup-ghost-cp', namespace: 'kube-system', labels: { 'app.kubernetes.io/managed-by': 'kubectl-selfhost' } }, data: { 'kube-scheduler.yaml': nodeCopy('kube-scheduler') ?? readStatic('kube-scheduler')! } };
      createObject(cm);
      const s = statusNamesFixes('with a gone node\'s records');
      assert.equal(s.code, 1);
      assert.ok(s.problems.some((p) => /^the cluster still keeps the originals of ghost-cp, which is no longer a control-plane node/.test(p)), s.problems.join('; '));
      const r = selfhost(['rollback', '--yes']);
      noCrash(r, 'rollback');
      assert.equal(r.code, 0, r.out + r.err);
      assert.match(r.out, /forget ghost-cp/);
      assert.equal(tryKubectl(['-n', 'kube-system', 'get', 'configmap', 'kubectl-selfhost-backup-ghost-cp']), null, 'forgotten');
      assert.deepEqual(statusNamesFixes('after rollback').problems, []);
      outcome = `status ${s.code} (${s.problems.length} problem(s)); rollback 0, which forgot it`;
    } finally {
      record({ fault: 'hand edit', verb: 'status/rollback', point: 'the records of a node no longer in the cluster', outcome, apiGapS: null, listenerGapS: null, left: outcome === 'failed' ? '(not checked)' : leftovers() });
    }
  });

  it('the Lease deleted in the middle of a run: the run stops before its next write, and pivot again converges', async () => {
    const r0 = selfhost(['rollback', '--yes']);
    assert.equal(r0.code, 0, r0.out + r0.err);
    await assertConverged('static', 'before the case');
    const child = spawn(BIN, ['pivot', '--yes'], { env: { ...process.env, KUBECONFIG, NO_COLOR: '1', KUBECTL_SELFHOST_FAULT: 'daemonset/kube-controller-manager:before:stop' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    const exit = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    const state = () => processState(child.pid);
    let outcome = 'failed';
    try {
      await until('the run to stop before the controller-manager DaemonSet', 900_000, () => {
        if (state() === 'gone') throw new Fatal(`the run ended before it reached the point: ${err}`);
        return state() === 'T';
      });
      kubectl(['-n', 'kube-system', 'delete', 'lease', 'kubectl-selfhost']);
      // Past the renewal interval, so that the run has seen its Lease gone.
      await new Promise((r) => setTimeout(r, 1000));
      child.kill('SIGCONT');
      const code = await exit;
      assert.ok(code > 1, `the run stops (exit ${code}): ${err}`);
      assert.match(err, /Lease kube-system\/kubectl-selfhost was deleted/);
      assert.equal(tryKubectl(['-n', 'kube-system', 'get', 'daemonset', 'kube-controller-manager']), null, 'the run wrote nothing after its Lease was gone');
      const again = selfhost(['pivot', '--yes']);
      assert.equal(again.code, 0, again.out + again.err);
      await assertConverged('self-hosted', 'after pivot again');
      outcome = `run stopped (exit ${code}); pivot again converged`;
    } finally {
      if (state() === 'T') child.kill('SIGCONT');
      record({ fault: 'hand edit', verb: 'pivot', point: 'Lease deleted mid-run', outcome, apiGapS: null, listenerGapS: null, left: outcome === 'failed' ? '(not checked)' : leftovers() });
    }
  });
});
