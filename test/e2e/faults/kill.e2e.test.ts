// Kill anywhere (issue "fault injection on the real bed"): pivot and rollback SIGKILLed by the fault hook
// (KUBECTL_SELFHOST_FAULT) before and after every step of their plans and after every node-agent operation that
// changes something, then resumed by the same verb and, in a separate case, by the opposite verb. After the kill and after
// the resume the invariants hold (test/e2e/faults/invariants.ts): no original lost, every component listening,
// the API prober's gap within the budget, status 0, nothing left behind. One table row per case.
//
// The whole matrix is long (about 5 minutes a case, over 100 cases on one node; the same matrix runs against the
// fakes in test/unit/executor-faults.test.ts in seconds). By default the bed runs one case per kind of point (each
// kind of step of both verbs, and each kind of agent operation), after it, the apiserver's where the kind has one,
// resumed alternately by the same and the opposite verb. FAULT_POINTS (a regular expression over
// "<verb> <point>:<when>"; '.' for all) and FAULT_RESUME (same, opposite or both; default both) choose another part:
//   FAULT_POINTS='^pivot handover/kube-apiserver' FAULT_RESUME=same npm run test:e2e:faults
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, KUBECONFIG, kubectl, kubectlAsync, MANIFESTS, selfhost, selfhostAsync, status, until } from '../helpers.ts';
import { startProber, type ProbeReport } from '../prober.ts';
import { apiGap, assertConverged, assertOriginalsKept, healthyBed, leftovers, printTable, readOriginals, record, worstListenerGap, type Mode, type Originals } from './invariants.ts';
import { apiserverLives, BED, CONTROL_PLANE, NODE, partitionOff, startListenerSampler, type Component } from './node.ts';
import { ACTIVE_CHECKPOINT_FILE, CHECKPOINTER_FILE, INACTIVE_CHECKPOINT_FILE } from '../../../src/core/checkpoint.ts';
import { HELPER_ARCHS, processName, sharingMethod } from '../../../src/core/port-sharing.ts';

type Verb = 'pivot' | 'rollback';
const FAULT = 'KUBECTL_SELFHOST_FAULT';
/** Longest API gap and longest stretch without a listener a case may cause, once the static pods share their port
 * (the one-time restart that adds --permit-port-sharing is an outage on a single node, reported, not budgeted). */
const BUDGET_S = 10;

interface Case { verb: Verb; point: string; when: 'before' | 'after'; resume: 'same' | 'opposite'; reboot?: boolean }

interface PlanStep { id: string; file?: string; node: string | null; component?: Component; method?: { how: 'in-place' | 'restart' } }

/** The pivot plan of the bed as it is now (static, as kubeadm made it): its steps and nodes. */
function pivotPlan(): { steps: PlanStep[]; nodes: string[] } {
  const r = spawnSync(BIN, ['plan', '-o', 'json'], { env: { ...process.env, KUBECONFIG, NO_COLOR: '1' }, encoding: 'utf8' });
  if (r.status !== 1 && r.status !== 0) throw new Error(`plan -o json failed (${r.status}): ${r.stderr}`);
  const plan = JSON.parse(r.stdout) as { steps: PlanStep[]; nodes: Array<{ name: string }> };
  return { steps: plan.steps, nodes: plan.nodes.map((n) => n.name) };
}

/**
 * The node-agent operations that change something, per kind of step, as the steps run them (src/pivot/pivot-steps.ts,
 * rollback-steps.ts; the fault hook's point is agent/<operation>/<file>/<node>). Reads are left out: a kill after a
 * read leaves what a kill before the step's next operation leaves.
 */
function agentPoints(verb: Verb, step: PlanStep | { id: string }): string[] {
  const [kind, a, b] = step.id.split('/');
  const node = b ?? a;
  switch (`${verb} ${kind}`) {
    case 'pivot backup': return [`agent/backup/${a}.yaml/${b}`];
    // In place, the node helper shares the listening socket; by restart, the manifest gets --permit-port-sharing.
    case 'pivot port-sharing': return (step as PlanStep).method?.how === 'in-place' ? [`agent/sharePort/${processName(a as Component)}/${b}`] : [`agent/write/${a}.yaml/${b}`];
    case 'pivot checkpoint': return [`agent/writeBackup/${INACTIVE_CHECKPOINT_FILE}/${b}`, `agent/write/${CHECKPOINTER_FILE}/${b}`];
    case 'pivot handover': return [`agent/remove/${a}.yaml/${b}`];
    case 'rollback restore': return [`agent/write/${a}.yaml/${b}`];
    case 'rollback uncheckpoint': return [CHECKPOINTER_FILE, ACTIVE_CHECKPOINT_FILE].map((f) => `agent/removeOwned/${f}/${a}`).concat(`agent/removeBackup/${INACTIVE_CHECKPOINT_FILE}/${a}`);
    case 'rollback cleanup': return CONTROL_PLANE.map((c) => `agent/removeBackup/${c}.yaml/${node}`).concat(`agent/removeBackups/selfhost-backup/${node}`);
    default: return [];
  }
}

/**
 * The plan's steps, with the port-sharing step of each component where the plan has none because an earlier
 * rollback left --permit-port-sharing in the static manifests: the case puts kubeadm's files back first (startFrom),
 * and its pivot then decides the method as below, from the node's kernel and architecture.
 */
function withPortSharing(steps: PlanStep[]): PlanStep[] {
  if (steps.some((s) => s.id.startsWith('port-sharing/'))) return steps;
  // Once per node, not per step.
  const infos = new Map<string, { kernelVersion: string; architecture: string }>();
  const info = (n: string) => {
    if (!infos.has(n)) infos.set(n, JSON.parse(kubectl(['get', 'node', n, '-o', 'jsonpath={.status.nodeInfo}'])));
    return infos.get(n)!;
  };
  return steps.flatMap((s) => {
    if (!s.id.startsWith('backup/') || !s.node) return [s];
    const i = info(s.node);
    const method = sharingMethod({ kernel: i.kernelVersion, arch: i.architecture }, HELPER_ARCHS);
    return [s, { ...s, id: s.id.replace(/^backup\//, 'port-sharing/'), method: { how: method.how } }];
  });
}

/** Every point of both verbs: each step's boundaries, and after each node-agent operation that changes something. */
function points(): Array<{ verb: Verb; point: string; when: 'before' | 'after' }> {
  const { steps: planned, nodes } = pivotPlan();
  const steps = withPortSharing(planned);
  const around = (verb: Verb, ids: Array<PlanStep | { id: string }>) => ids.flatMap((s) => [
    { verb, point: s.id, when: 'before' as const },
    { verb, point: s.id, when: 'after' as const },
    ...agentPoints(verb, s).map((point) => ({ verb, point, when: 'after' as const })),
  ]);
  // Rollback's steps (src/core/rollback-plan.ts), in its order: per component, the apiserver first, restore on
  // every node (the apiserver's checkpoint removed right after its node is proven), then the DaemonSet deleted;
  // cleanup per node at the end.
  const rollbackIds = [...CONTROL_PLANE].reverse().flatMap((c) => [
    ...nodes.flatMap((n) => [`restore/${c}/${n}`, ...(c === 'kube-apiserver' ? [`uncheckpoint/${n}`] : [])]),
    `delete-daemonset/${c}`,
  ]).concat(nodes.map((n) => `cleanup/${n}`)).map((id) => ({ id }));
  return [...around('pivot', steps), ...around('rollback', rollbackIds)];
}

/** One point per kind ("pivot handover", "rollback agent/write"...): the kube-apiserver's, else the first; after. */
function onePerKind<P extends { verb: Verb; point: string; when: 'before' | 'after' }>(all: P[]): P[] {
  const kind = (p: P) => `${p.verb} ${p.point.startsWith('agent/') ? p.point.split('/').slice(0, 2).join('/') : p.point.split('/')[0]}`;
  const kinds = [...new Set(all.map(kind))];
  return kinds.map((k) => {
    const after = all.filter((p) => kind(p) === k && p.when === 'after');
    return after.find((p) => p.point.includes('kube-apiserver')) ?? after[0] ?? all.find((p) => kind(p) === k)!;
  });
}

function cases(): Case[] {
  if (!process.env['FAULT_POINTS'] && !process.env['FAULT_RESUME']) {
    return onePerKind(points()).map((p, i) => ({ ...p, resume: i % 2 === 0 ? 'same' as const : 'opposite' as const }));
  }
  const filter = process.env['FAULT_POINTS'] ? new RegExp(process.env['FAULT_POINTS']) : null;
  const resumes = (process.env['FAULT_RESUME'] ?? 'both') === 'both' ? ['same', 'opposite'] as const : [process.env['FAULT_RESUME'] as 'same' | 'opposite'];
  return points()
    .filter((p) => !filter || filter.test(`${p.verb} ${p.point}:${p.when}`))
    .flatMap((p) => resumes.map((resume) => ({ ...p, resume })));
}

const opposite = (v: Verb): Verb => (v === 'pivot' ? 'rollback' : 'pivot');
const modeAfter = (v: Verb): Mode => (v === 'pivot' ? 'self-hosted' : 'static');

/** kubeadm's own manifest of a component: the one on the node without the flag an earlier pivot's restart added
 * (rollback keeps it), which kubeadm never writes. */
const asKubeadmMadeIt = (manifest: string): string => manifest.replace(/^\s*- --permit-port-sharing(=true)?\n/m, '');

/** Brings the bed to the case's starting point: static (with kubeadm's exact files for the port-sharing points), or
 * self-hosted for rollback cases; returns the originals the case's pivot backs up, and whether that pivot restarts
 * the static pods to add --permit-port-sharing. */
async function startFrom(c: Case): Promise<{ originals: Originals; restarts: boolean }> {
  const s = status();
  const m = s.doc.nodes.flatMap((n) => n.components).filter((x) => x.component !== 'etcd').map((x) => x.mode);
  if (s.code !== 0 || m.some((x) => x !== 'static')) {
    const r = selfhost(['rollback', '--yes']);
    assert.equal(r.code, 0, `reset to static: ${r.out}${r.err}`);
    await assertConverged('static', 'after the reset');
  }
  if (c.point.startsWith('port-sharing/') || (c.verb === 'pivot' && /^agent\/(sharePort\/|write\/kube-[a-z-]+\.yaml\/)/.test(c.point))) {
    // The point (the port-sharing step, or its agent's operation) exists only while a static pod lacks
    // --permit-port-sharing: put kubeadm's files back, as a shell on the node would, and wait for the restarted
    // control plane.
    const now = readOriginals();
    for (const comp of CONTROL_PLANE) writeFileSync(join(MANIFESTS, `${comp}.yaml`), asKubeadmMadeIt(now[comp]), { mode: 0o600 });
    await until('the control plane kubeadm made to be healthy again', 600_000, () => status().code === 0 && selfhost(['plan', '-o', 'json']).out.includes('port-sharing/'));
  }
  const originals = readOriginals();
  // The static pods lack --permit-port-sharing (the fresh bed, or the files put back above) and the node cannot share
  // their sockets in place: this case's pivot restarts them once, an outage on a single node that the budget does
  // not cover.
  const restarts = c.verb === 'pivot' && pivotPlan().steps.some((s) => s.id.startsWith('port-sharing/') && s.method?.how !== 'in-place');
  if (c.verb === 'rollback') {
    const r = selfhost(['pivot', '--yes']);
    assert.equal(r.code, 0, `pivot to start the rollback case: ${r.out}${r.err}`);
    await assertConverged('self-hosted', 'before the rollback case');
  }
  return { originals, restarts };
}

describe('kill anywhere, on the real kubeadm test bed', { concurrency: 1 }, () => {
  before(async () => {
    partitionOff();
    await healthyBed();
  });
  after(async () => {
    printTable('kill anywhere: results');
    const r = selfhost(['rollback', '--yes']);
    console.log(`# final rollback: exit ${r.code}`);
  });

  // LIST_CASES=1 prints the cases chosen (with --test-skip-pattern=. nothing runs).
  if (process.env['LIST_CASES']) console.log(cases().map((c) => `${c.verb} ${c.point}:${c.when} ${c.resume}`).join('\n'));
  for (const c of cases()) {
    it(`${c.verb} killed ${c.when} ${c.point}, then ${c.resume === 'same' ? c.verb : opposite(c.verb)}`, () => killAndResume(c));
  }
});

/** Hard reboots mid-operation (`testbed.sh reboot`: every process of the node stopped, /run cleared): the run
 * killed at the point, the node rebooted, the API back with no command, then the same verb converges. */
const REBOOTS: Case[] = [
  { verb: 'pivot', point: `port-sharing/kube-apiserver/${NODE}`, when: 'after', resume: 'same', reboot: true },
  { verb: 'pivot', point: 'daemonset/kube-apiserver', when: 'after', resume: 'same', reboot: true },
  { verb: 'pivot', point: `handover/kube-controller-manager/${NODE}`, when: 'after', resume: 'same', reboot: true },
  { verb: 'rollback', point: `restore/kube-apiserver/${NODE}`, when: 'after', resume: 'same', reboot: true },
];

describe('a hard reboot mid-operation, on the real kubeadm test bed', { concurrency: 1 }, () => {
  before(async () => {
    partitionOff();
    await healthyBed();
  });
  after(() => {
    printTable('reboot mid-operation: results');
    selfhost(['rollback', '--yes']);
  });
  for (const c of REBOOTS) it(`${c.verb} killed ${c.when} ${c.point}, the node rebooted, then ${c.verb}`, () => killAndResume(c));
});

async function killAndResume(c: Case): Promise<void> {
  const name = `${c.verb} killed ${c.when} ${c.point}${c.reboot ? ', reboot' : ''}`;
  const { originals, restarts } = await startFrom(c);
  const sampler = startListenerSampler();
  const prober = startProber(KUBECONFIG, name);
  let probe: ProbeReport | null = null;
  let outcome = 'failed';
  let gaps = null as Record<string, number> | null;
  let apiBackS = 0;
  let resumed = '';
  const verb = c.resume === 'same' ? c.verb : opposite(c.verb);
  try {
    const killed = await selfhostAsync([c.verb, '--yes'], 900_000, { [FAULT]: `${c.point}:${c.when}:kill` });
    assert.notEqual(killed.code, 0, `the fault point was never reached: ${killed.out.slice(-1500)}`);
    assert.match(killed.err, new RegExp(`fault: kill at ${c.point.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), killed.err);
    assertOriginalsKept(originals, `after the kill at ${c.point}:${c.when}`);
    if (c.reboot) {
      const t0 = Date.now();
      execFileSync('bash', [BED, 'reboot', '--no-wait'], { stdio: ['ignore', 'pipe', 'pipe'] });
      await until('the API to answer after the reboot', 600_000, async () => (await kubectlAsync(['get', '--raw', '/readyz'])) === 'ok');
      apiBackS = (Date.now() - t0) / 1000;
      assertOriginalsKept(originals, 'after the reboot');
    }
    const resumedAt = new Date().toISOString();
    const r = await selfhostAsync([verb, '--yes']);
    resumed = `(began ${resumedAt}) ${r.out}${r.err}`;
    assert.equal(r.code, 0, `${verb} after the ${c.reboot ? 'reboot' : 'kill'}: ${r.out.slice(-3000)}${r.err}`);
    if (verb === 'pivot') assertOriginalsKept(originals, `after ${verb}`);
    await assertConverged(modeAfter(verb), `after ${verb}`);
    outcome = c.reboot
      ? `API back ${apiBackS.toFixed(1)} s after the reboot began, no command; ${verb} converged (${modeAfter(verb)})`
      : `${verb} converged (${modeAfter(verb)})`;
  } finally {
    probe = await prober.stop();
    gaps = await sampler.stop();
    record({ fault: c.reboot ? 'SIGKILL + hard reboot' : 'SIGKILL', verb: c.verb, point: `${c.point}:${c.when}`, outcome: `${outcome}; resumed by ${verb}`, apiGapS: apiGap(probe), listenerGapS: worstListenerGap(gaps as never), left: outcome === 'failed' ? '(not checked)' : leftovers() });
  }
  // A reboot is an outage of the single node, and so is the one-time restart that adds --permit-port-sharing.
  if (!restarts && !c.reboot) {
    // The resumed run's own account of its waits goes with a failure (CI shows nothing else of it); it reads every
    // apiserver container's log on the node, so it is built only for a failure.
    const told = () => `; listener gaps ${JSON.stringify(gaps)}; apiserver processes: ${apiserverLives()}; what ${verb} printed (its end): ${resumed.slice(-4000).replace(/\n/g, ' ⏎ ')}`;
    const apiGapS = probe.longestGapMs / 1000;
    if (apiGapS > BUDGET_S) assert.fail(`longest API gap ${apiGapS.toFixed(2)}s is within ${BUDGET_S}s (it ended ${probe.longestGapEnd})${told()}`);
    if (worstListenerGap(gaps as never) > BUDGET_S) assert.fail(`every component kept a listener but for ${BUDGET_S}s at most${told()}`);
  }
}
