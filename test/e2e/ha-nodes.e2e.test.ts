// Nodes coming and going on the HA bed (testbed.sh up --control-planes 3), with the plugin's verbs around them:
// a pivot killed during the second node's apiserver hand-over (steered) and rolled back, a node down before pivot, a
// node stopped in the middle of a pivot, a control-plane node joined after the pivot,
// single-node and rolling reboots with the control plane self-hosted, a node removed for good, rollback with a node
// down. The API through the load balancer is probed throughout each; figures are printed, never asserted.
// Runs after ha.e2e.test.ts (npm run test:e2e:ha), on a static control plane.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatReport, startProber, type ProbeReport } from './prober.ts';
import { KUBECONFIG, kubectl, migrateReq, ourDaemonSets, REPO, selfhost, selfhostAsync, selfhostBackground, status, steeringLeft, tryKubectl, until, untilOutput, type StatusDoc } from './helpers.ts';

const BED = join(REPO, 'scripts', 'testbed', 'testbed.sh');
function bed(args: string[]): string {
  const r = spawnSync('bash', [BED, ...args], { encoding: 'utf8', timeout: 900_000 });
  assert.equal(r.status, 0, `testbed.sh ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout.trim();
}
const nodes = () => bed(['nodes']).split('\n').filter(Boolean);
const listed = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('.')).sort() : []);
const manifestsOn = (node: string) => listed(bed(['path', node, '/etc/kubernetes/manifests']));

const figures: string[] = [];
const report = (r: ProbeReport) => {
  figures.push(formatReport(r));
  console.log(`# FIGURE ${formatReport(r)}`);
};
async function throughLb<T>(label: string, f: () => T | Promise<T>): Promise<T> {
  const lb = startProber(KUBECONFIG, `${label} [load balancer]`);
  try {
    return await f();
  } finally {
    report(await lb.stop());
  }
}

const nodeReady = (n: string) => tryKubectl(['get', 'node', n, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])?.trim();
const healthy = () => status().code === 0;
function modesOf(doc: StatusDoc, node: string): Record<string, string> {
  return Object.fromEntries((doc.nodes.find((n) => n.name === node)?.components ?? []).map((c) => [c.component, c.mode]));
}
const SELF_HOSTED = { 'kube-scheduler': 'self-hosted', 'kube-controller-manager': 'self-hosted', 'kube-apiserver': 'self-hosted', etcd: 'static' };
const STATIC = { 'kube-scheduler': 'static', 'kube-controller-manager': 'static', 'kube-apiserver': 'static', etcd: 'static' };

/** The DaemonSet pods of the control plane on a node, with their restart counts. */
function daemonPodsOn(node: string): string[] {
  const out = kubectl(['-n', 'kube-system', 'get', 'pods', '--field-selector', `spec.nodeName=${node}`, '-l', 'app.kubernetes.io/managed-by=kubectl-selfhost',
    '-o', 'jsonpath={range .items[*]}{.metadata.name}/{.status.containerStatuses[0].restartCount}{"\\n"}{end}']);
  return out.split('\n').filter(Boolean);
}

/** The node's apiserver DaemonSet pod runs a container started after `since` and is ready. */
function backSince(node: string, since: number): boolean {
  const out = tryKubectl(['-n', 'kube-system', 'get', 'pods', '--field-selector', `spec.nodeName=${node}`, '-l', 'component=kube-apiserver,app.kubernetes.io/managed-by=kubectl-selfhost',
    '-o', 'jsonpath={range .items[*]}{.status.containerStatuses[0].ready} {.status.containerStatuses[0].state.running.startedAt}{"\\n"}{end}']) ?? '';
  return out.split('\n').some((l) => {
    const [ready, started] = l.split(' ');
    return ready === 'true' && !!started && Date.parse(started) >= since - 1000;
  });
}

/** Each node's net.ipv4.tcp_migrate_req before the suite. */
const migrateBefore: Record<string, string> = {};

/** No steering program on the apiserver's port and tcp_migrate_req as before the suite, on every node that was there then. */
function assertNoSteeringLeft(): void {
  for (const [n, before] of Object.entries(migrateBefore)) assert.deepEqual(steeringLeft(before, n), [], `no steering program and no changed sysctl left on ${n}`);
}

describe('HA: nodes that go down, come, reboot and go', { timeout: 5_400_000 }, () => {
  before(() => assert.ok(nodes().length >= 3, `needs the bed with three control-plane nodes (npm run test:e2e:ha); testbed.sh nodes: ${nodes().join(' ')}`));
  before(() => { for (const n of nodes()) migrateBefore[n] = migrateReq(n); });
  after(() => {
    if (figures.length > 0) console.log(`# FIGURES (HA nodes)\n${figures.map((f) => `#   ${f}`).join('\n')}`);
  });

  it('a pivot SIGKILLed during the second node\'s apiserver hand-over: rollback undoes it, and no node keeps a steering program or a changed sysctl', async () => {
    const second = nodes()[1]!;
    const run = selfhostBackground(['pivot', '--yes', '--timeout', '5m']);
    // Killed where the second node's new apiserver has the port (steered to it) and the old one has not gone yet.
    const handover = new RegExp(`\\[pivot/kube-apiserver\\] \\(\\d+/\\d+\\) on ${second}: wait until the DaemonSet pod serves`);
    await untilOutput(run, `the pivot to start ${second}'s apiserver hand-over`, 1_200_000, handover);
    await new Promise((r) => setTimeout(r, 3000));
    run.child.kill('SIGKILL');
    await run.exited;
    console.log(`# killed pivot during ${second}'s apiserver hand-over; its last lines:\n${run.out().trim().split('\n').slice(-3).map((l) => `#   ${l}`).join('\n')}`);
    const r = await throughLb('rollback of a pivot killed during the second node\'s apiserver hand-over', () => selfhostAsync(['rollback', '--yes']));
    assert.equal(r.code, 0, `rollback (${r.code}):\n${(r.out + r.err).slice(-3000)}`);
    const s = status();
    assert.equal(s.code, 0, `status: ${JSON.stringify(s.doc.problems)}`);
    for (const n of nodes()) assert.deepEqual(modesOf(s.doc, n), STATIC, `${n}`);
    assert.deepEqual(ourDaemonSets(), []);
    assertNoSteeringLeft();
  });

  it('a node down before pivot: pivot refuses, naming it, and changes nothing', async () => {
    const victim = nodes()[2]!;
    bed(['stop', victim, '--kill']);
    try {
      await until(`${victim} NotReady`, 180_000, () => nodeReady(victim) !== 'True');
      const r = selfhost(['pivot', '--yes', '--timeout', '20s']);
      assert.equal(r.code, 5, `pivot exit code (5: precondition):\n${r.out}\n${r.err}`);
      assert.match(r.err, new RegExp(`${victim} is not Ready`));
      assert.deepEqual(ourDaemonSets(), []);
    } finally {
      bed(['start', victim]);
    }
    await until(`${victim} Ready again`, 300_000, () => nodeReady(victim) === 'True');
    await until('the control plane healthy again', 300_000, healthy);
    for (const n of nodes()) assert.deepEqual(manifestsOn(n), ['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml'], `nothing changed on ${n}`);
  });

  it('a node stopped in the middle of pivot: the run stops safely; pivot again, once the node is back, finishes', async () => {
    const victim = nodes()[2]!;
    const run = selfhostBackground(['pivot', '--yes', '--timeout', '60s']);
    await untilOutput(run, 'the pivot to reach the controller-manager', 900_000, /\[pivot\/kube-controller-manager\] \(/);
    bed(['stop', victim, '--kill']);
    const code = await run.exited;
    const out = run.out();
    console.log(`# pivot with ${victim} stopped: exit ${code}; last lines:\n${out.trim().split('\n').slice(-4).map((l) => `#   ${l}`).join('\n')}`);
    assert.ok(code === 5 || code === 6, `pivot exit code ${code}, expected a safe stop (5 or 6):\n${out.slice(-3000)}`);
    // The API stayed up through the other two nodes.
    assert.ok(tryKubectl(['get', '--raw', '/readyz']) !== null, 'the API through the load balancer');
    bed(['start', victim]);
    await until(`${victim} Ready again`, 300_000, () => nodeReady(victim) === 'True');
    const r = await throughLb('pivot resumed after a node came back', () => selfhostAsync(['pivot', '--yes']));
    assert.equal(r.code, 0, `pivot again (${r.code}):\n${(r.out + r.err).slice(-3000)}`);
    const s = status();
    assert.equal(s.code, 0, `status: ${JSON.stringify(s.doc.problems)}`);
    for (const n of nodes()) assert.deepEqual(modesOf(s.doc, n), SELF_HOSTED, `${n}`);
    assertNoSteeringLeft();
  });

  it('a control-plane node joined after pivot: no DaemonSet pod on it, status names the fix, pivot brings it in', async () => {
    const before = new Set(nodes());
    const seen = new Set<string>();
    let joined = '';
    const watch = setInterval(() => {
      const all = nodes();
      joined = all.find((n) => !before.has(n)) ?? joined;
      if (joined) for (const p of (tryKubectl(['-n', 'kube-system', 'get', 'pods', '--field-selector', `spec.nodeName=${joined}`, '-o', 'jsonpath={range .items[*]}{.metadata.name}/{.status.containerStatuses[0].restartCount}{"\\n"}{end}']) ?? '').split('\n').filter(Boolean)) seen.add(p);
    }, 2000);
    try {
      await throughLb('a fourth control-plane node joins', () => bed(['join']));
      await new Promise((r) => setTimeout(r, 30_000)); // a DaemonSet pod would have started and crashed by now
    } finally {
      clearInterval(watch);
    }
    joined = nodes().find((n) => !before.has(n))!;
    assert.ok(joined, 'testbed.sh join added a node');
    assert.deepEqual(daemonPodsOn(joined), [], `no DaemonSet pod on ${joined}`);
    const restarted = [...seen].filter((p) => !p.endsWith('/0') && /kube-(apiserver|controller-manager|scheduler)/.test(p));
    assert.deepEqual(restarted, [], `no control-plane container restarted on ${joined}; seen: ${[...seen].join(' ')}`);
    const s = status();
    assert.equal(s.code, 1, 'status: mid-way');
    assert.ok(s.doc.problems.some((p) => p.includes(joined) && p.includes('kubectl selfhost pivot')), `status names ${joined} and the fix: ${JSON.stringify(s.doc.problems)}`);
    const r = await throughLb(`pivot brings ${joined} in`, () => selfhostAsync(['pivot', '--yes']));
    assert.equal(r.code, 0, `pivot (${r.code}):\n${(r.out + r.err).slice(-3000)}`);
    const after = status();
    assert.equal(after.code, 0, `status: ${JSON.stringify(after.doc.problems)}`);
    for (const n of nodes()) assert.deepEqual(modesOf(after.doc, n), SELF_HOSTED, `${n}`);
  });

  it('one node rebooted, then every node one after the other: each comes back self-hosted by itself', async () => {
    const all = nodes();
    const reboot = async (n: string) => {
      const since = Date.now();
      bed(['reboot', n, '--no-wait']); // returns once the node is down and its containerd and kubelet start again
      await until(`${n}'s self-hosted apiserver to serve again after the reboot`, 600_000, () => backSince(n, since) && healthy());
    };
    await throughLb(`reboot of ${all[0]} (self-hosted)`, () => reboot(all[0]!));
    await throughLb('rolling reboot of every node (self-hosted)', async () => {
      for (const n of all) await reboot(n);
    });
    const s = status();
    for (const n of all) assert.deepEqual(modesOf(s.doc, n), SELF_HOSTED, `${n}`);
  });

  it('a node removed for good after pivot: status lists its records; rollback forgets them', async () => {
    // Removing one of three and stopping another would cost etcd its quorum: the API itself would be gone.
    assert.ok(nodes().length >= 4, `needs the fourth node of the join case (it failed?); testbed.sh nodes: ${nodes().join(' ')}`);
    const gone = nodes().at(-1)!;
    bed(['remove', gone]);
    const s = status();
    assert.ok(s.doc.problems.some((p) => p.includes(`delete configmap kubectl-selfhost-backup-${gone}`)), `status names ${gone}'s records and the command that forgets them: ${JSON.stringify(s.doc.problems)}`);
    assert.ok(tryKubectl(['-n', 'kube-system', 'get', 'configmap', `kubectl-selfhost-backup-${gone}`]) !== null, 'its backup is still there before rollback');
    // Rollback with one node down: what it says to do, and that it changes nothing unsafe.
    const down = nodes()[1]!;
    bed(['stop', down, '--kill']);
    let r;
    try {
      await until(`${down} NotReady`, 180_000, () => nodeReady(down) !== 'True');
      r = await throughLb(`rollback with ${down} down`, () => selfhostAsync(['rollback', '--yes', '--timeout', '60s']));
      console.log(`# rollback with ${down} down: exit ${r.code}\n${(r.out + r.err).trim().split('\n').slice(-6).map((l) => `#   ${l}`).join('\n')}`);
      assert.equal(r.code, 5, 'rollback refuses with a node down (5: precondition)');
      assert.match(r.err, new RegExp(`node ${down} is not Ready, and rollback needs a node agent on each node it restores; nothing was changed`));
      assert.equal(ourDaemonSets().length, 3, 'nothing was changed: the DaemonSets are all there');
    } finally {
      bed(['start', down]);
    }
    await until(`${down} Ready again`, 300_000, () => nodeReady(down) === 'True');
    const r2 = await throughLb('rollback once every node is back', () => selfhostAsync(['rollback', '--yes']));
    assert.equal(r2.code, 0, `rollback (${r2.code}):\n${(r2.out + r2.err).slice(-3000)}`);
    const end = status();
    assert.equal(end.code, 0, `status: ${JSON.stringify(end.doc.problems)}`);
    for (const n of nodes()) assert.deepEqual(modesOf(end.doc, n), STATIC, `${n}`);
    assert.equal(tryKubectl(['-n', 'kube-system', 'get', 'configmap', `kubectl-selfhost-backup-${gone}`]), null, `no backup of ${gone} left`);
    assert.deepEqual(ourDaemonSets(), []);
    assertNoSteeringLeft();
  });
});
