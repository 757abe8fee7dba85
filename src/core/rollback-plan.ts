// The rollback planner: a pure function from a Snapshot to a RollbackPlan, as buildPlan is for pivot. No clock,
// no I/O: `now` is passed in. `plan --rollback` prints this value; `rollback` executes exactly it (re-checked under
// the Lease). The algorithm it lays out, per component in reverse pivot order (the apiserver first):
//  1. on every node where the component is not purely static: restore the static manifest rendered from the
//     live DaemonSet's template (so edits made through the API survive; what pivot made node-neutral is made the
//     node's own again from its original), or the pivot-time original with --to-original or when no DaemonSet is
//     left; with port sharing, so it binds beside the DaemonSet pod; then prove the static pod serves (the
//     apiserver: its own process answers). Restoring an older version than the one that runs needs --force;
//  2. the apiserver only, node by node after its static apiserver is proven: remove the checkpointer and any
//     active checkpoint (a checkpoint is never removed while it may be the node's only apiserver);
//  3. delete the DaemonSet, only once every node has a serving static instance; wait until they serve alone;
//     then remove the component's gate label from each node that carries it (src/core/node-gate.ts): only now, so
//     that it never takes a DaemonSet pod away before the static one serves; a component rolled back alone
//     leaves the other components' labels in place;
//  4. with --exact: put back the byte-identical originals (one more restart each);
//  5. per node at the end: remove the backups of the components that run static and have no DaemonSet left; the
//     backup of anything else is kept (it may be the last copy), and so is the backup directory.
import { PIVOT_ORDER, type Component } from './components.ts';
import { DEFAULT_SECURE_PORT, servingPort } from './serving-port.ts';
import type { Pod } from './k8s-types.ts';
import { API_GROUP, gateLabel } from './labels.ts';
import { guardMayBeLeft } from './endpoint-guard.ts';
import { apiserverAddresses, findStatic, guardStep, modeOf, stepNode, type StepNode, type Warning } from './plan.ts';
import { steeringFor, steerStep, type SteerTo } from './steering.ts';
import type { HelperArch } from './port-sharing.ts';
import type { Writes } from './runner.ts';
import { closeGate, type GateStep } from './node-gate.ts';
import type { NodeSnapshot, Snapshot, SnapshotSource } from './snapshot.ts';
import { toStaticPod } from './transform/to-static.ts';
import { sharesPort, withPortSharing } from './transform/mutators.ts';
import { compareVersions, imageTag } from './version.ts';
import { parseAll, toYaml } from './yaml.ts';

export const ROLLBACK_PLAN_API_VERSION = `${API_GROUP}/v1alpha1`;

export interface RollbackOptions {
  components: readonly Component[];
  /** Restore the pivot-time originals instead of what the DaemonSets run now. */
  toOriginal: boolean;
  /** Put back the byte-identical originals at the end (one more restart), instead of keeping --permit-port-sharing. */
  exact: boolean;
  /** Allow restoring an older version than the one that runs. */
  force: boolean;
  /** The node helper's architectures in this build: where it can run, the apiserver's hand-back is steered (src/core/steering.ts). */
  helperArchs?: readonly string[];
}

export type RestoreSource = 'daemonset' | 'checkpoint' | 'original' | 'node-backup';

export interface RollbackNodePlan {
  node: string;
  from: RestoreSource;
  /** What the restore writes (null: the node copy of the original, read on the node at run time). */
  manifest: string | null;
  /** The pivot-time original's cluster copy, for the diff (null: none in the cluster). */
  original: string | null;
  version: string | null;
  runningVersion: string | null;
}

export interface RollbackComponentPlan {
  component: Component;
  action: 'rollback' | 'skip' | 'blocked';
  reason: string;
  nodes: RollbackNodePlan[];
}

interface StepBase {
  id: string;
  component: Component | null;
  description: string;
  writes: Writes;
}

export type RollbackStep = StepBase & (
  | { action: 'restore'; component: Component; node: string; target: StepNode; file: string; port: number; from: RestoreSource; manifest: string | null; steer?: { arch: HelperArch; migrate: boolean } }
  | { action: 'guard-endpoints'; component: 'kube-apiserver'; node: null; addresses: string[]; on: boolean }
  | { action: 'uncheckpoint'; component: 'kube-apiserver'; node: string; target: StepNode; port: number }
  | { action: 'delete-daemonset'; component: Component; node: null; targets: StepNode[]; port: number }
  | { action: 'exact'; component: Component; node: string; target: StepNode; file: string; port: number; manifest: string | null }
  | { action: 'cleanup'; component: null; node: string; target: StepNode; components: Component[] }
  | { action: 'forget-node'; component: null; node: string }
  | { action: 'steer'; component: 'kube-apiserver'; node: string; target: StepNode; port: number; to: SteerTo; arch: HelperArch; migrate: boolean }
  | Omit<GateStep, 'id' | 'description' | 'writes'>
);

export interface RollbackPlan {
  apiVersion: typeof ROLLBACK_PLAN_API_VERSION;
  kind: 'RollbackPlan';
  generatedAt: string;
  source: SnapshotSource;
  options: Omit<RollbackOptions, 'components'>;
  components: RollbackComponentPlan[];
  steps: RollbackStep[];
  warnings: Warning[];
}

const parsePod = (text: string): Pod | null => {
  try {
    return (parseAll(text)[0] as Pod | undefined) ?? null;
  } catch {
    return null;
  }
};

/**
 * The version that runs on a node now: its DaemonSet pod, else its active checkpoint, else the one its checkpoint
 * was written from (what ran last, when nothing runs).
 */
function runningVersion(n: NodeSnapshot, c: Component): string | null {
  const hosted = n.daemonPods.find((p) => p.component === c);
  if (hosted?.image) return imageTag(hosted.image);
  if (c !== 'kube-apiserver') return null;
  return imageTag(n.checkpoint?.activeSpec?.containers[0]?.image ?? n.checkpoint?.recordedImage);
}

function planNode(c: Component, n: NodeSnapshot, s: Snapshot, o: RollbackOptions): RollbackNodePlan {
  const originalText = s.backups?.[n.name]?.[c] ?? null;
  const original = originalText !== null ? parsePod(originalText) : null;
  const ds = s.daemonSets[c];
  const running = runningVersion(n, c);
  if (ds && !o.toOriginal) {
    const pod = toStaticPod(c, ds.spec.template, { name: n.name, address: n.address ?? null }, original);
    return { node: n.name, from: 'daemonset', manifest: toYaml(pod), original: originalText, version: imageTag(pod.spec.containers[0]?.image), runningVersion: running };
  }
  // The DaemonSet deleted by hand: the active checkpoint is what serves, a spec proven to run.
  const active = c === 'kube-apiserver' && !o.toOriginal ? n.checkpoint?.activeSpec : undefined;
  if (active) {
    const pod = toStaticPod(c, { metadata: {}, spec: active }, { name: n.name, address: n.address ?? null }, original);
    return { node: n.name, from: 'checkpoint', manifest: toYaml(pod), original: originalText, version: imageTag(pod.spec.containers[0]?.image), runningVersion: running };
  }
  if (original) {
    const manifest = sharesPort(original) ? originalText : toYaml(withPortSharing(original));
    return { node: n.name, from: 'original', manifest, original: originalText, version: imageTag(original.spec.containers[0]?.image), runningVersion: running };
  }
  return { node: n.name, from: 'node-backup', manifest: null, original: null, version: null, runningVersion: running };
}

function planComponent(c: Component, nodes: NodeSnapshot[], s: Snapshot, o: RollbackOptions): RollbackComponentPlan {
  const n = (p: RollbackNodePlan) => (nodes.find((x) => x.name === p.node)?.daemonPods.some((d) => d.component === c) || nodes.find((x) => x.name === p.node)?.checkpoint?.activeSpec ? 'runs now' : 'ran last');
  const todo = nodes.filter((n) => modeOf(n, c) !== 'static');
  if (todo.length === 0 && !s.daemonSets[c]) return { component: c, action: 'skip', reason: 'static on every control-plane node, no DaemonSet', nodes: [] };
  const planned = todo.map((n) => planNode(c, n, s, o));
  const downgrades = planned.filter((p) => p.version && p.runningVersion && compareVersions(p.version, p.runningVersion) < 0);
  if (downgrades.length > 0 && !o.force) {
    const d = downgrades[0]!;
    const what = d.from === 'daemonset' ? 'the DaemonSet\'s template' : 'the pivot-time original';
    const hint = o.toOriginal ? 'run rollback without --to-original to keep what runs, or ' : c === 'kube-apiserver' && d.from === 'original' ? 'once the checkpoint serves (it starts by itself within a minute of the apiserver going), rollback restores what it runs; or ' : '';
    return { component: c, action: 'blocked', nodes: planned, reason: `restoring ${what} (${d.version}) on ${d.node} would downgrade ${c} from ${d.runningVersion}, which ${n(d)}; ${hint}add --force to downgrade` };
  }
  const reason = todo.length ? `self-hosted on ${todo.map((n) => n.name).join(', ')}` : 'static everywhere; the DaemonSet is left over';
  return { component: c, action: 'rollback', reason, nodes: planned };
}




export const SOURCE_TEXT: Record<RestoreSource, string> = {
  daemonset: 'the DaemonSet as it runs now',
  checkpoint: 'the checkpoint that serves (the DaemonSet is gone)',
  original: 'the pivot-time original (cluster copy)',
  'node-backup': 'the pivot-time original (node copy, read on the node)',
};

function stepsFor(cp: RollbackComponentPlan, nodes: NodeSnapshot[], s: Snapshot, o: RollbackOptions): RollbackStep[] {
  // Static everywhere with no DaemonSet, but labels left (a run stopped before it removed them): removed.
  if (cp.action === 'skip') return nodes.some((n) => n.labels !== undefined) ? ungateSteps(cp.component, nodes) : [];
  if (cp.action !== 'rollback') return [];
  const c = cp.component;
  const port = portOf(c, s, cp);
  const file = (n: NodeSnapshot) => findStatic(n, c)?.file ?? `${c}.yaml`;
  const steps: RollbackStep[] = [];
  // The kubernetes Service keeps the handed-back addresses throughout (src/core/endpoint-guard.ts).
  const addresses = apiserverAddresses(nodes.filter((n) => cp.nodes.some((p) => p.node === n.name)));
  if (c === 'kube-apiserver') steps.push(rollbackGuard(addresses, true));
  // Steered hand-backs (src/core/steering.ts): the program keeps new connections on the serving instance until the
  // restored static one answers at the probe address. Attaching replaces a program a killed pivot left.
  const steering = new Map(nodes.map((n) => [n.name, c === 'kube-apiserver' ? steeringFor(n, o.helperArchs ?? [], null) : null]));
  for (const p of cp.nodes) {
    const n = nodes.find((x) => x.name === p.node)!;
    const st = steering.get(n.name);
    if (st?.how === 'steer') steps.push(steerStep(stepNode(n), port, 'old', st));
    steps.push({
      id: `restore/${c}/${n.name}`, action: 'restore', component: c, node: n.name, target: stepNode(n), file: file(n), port, from: p.from, manifest: p.manifest, writes: 'node',
      ...(st?.how === 'steer' ? { steer: { arch: st.arch, migrate: st.migrate } } : {}),
      description: `on ${n.name}: ${p.from === 'checkpoint' ? 'stop the checkpointer (it would retire the serving checkpoint before the restored apiserver answers), ' : ''}restore the static ${c} from ${SOURCE_TEXT[p.from]}, sharing the port, ${st?.how === 'steer' ? 'give new connections to it once it answers at the probe address, ' : ''}and wait until it serves`,
    });
    if (c === 'kube-apiserver' && hasCheckpoint(n)) steps.push(uncheckpoint(n, port));
  }
  if (c === 'kube-apiserver') {
    for (const n of nodes.filter((x) => !cp.nodes.some((p) => p.node === x.name) && hasCheckpoint(x))) steps.push(uncheckpoint(n, port));
  }
  steps.push({
    id: `delete-daemonset/${c}`, action: 'delete-daemonset', component: c, node: null, targets: nodes.map(stepNode), port, writes: 'api',
    description: `delete DaemonSet kube-system/${c} once the static ${c} serves on every node, and wait until the static pods serve alone`,
  });
  // Detached everywhere it may be: the nodes handed back, and any other a killed pivot may have steered.
  for (const n of nodes) {
    const st = steering.get(n.name);
    if (st?.how === 'steer') steps.push(steerStep(stepNode(n), port, 'none', st));
  }
  steps.push(...ungateSteps(c, nodes));
  if (o.exact) {
    for (const n of nodes) {
      steps.push({ id: `exact/${c}/${n.name}`, action: 'exact', component: c, node: n.name, target: stepNode(n), file: file(n), port, manifest: cp.nodes.find((p) => p.node === n.name)?.original ?? null, writes: 'node',
        description: `on ${n.name}: put back the byte-identical original ${c} manifest (the kubelet restarts it)` });
    }
  }
  if (c === 'kube-apiserver') steps.push(rollbackGuard(addresses, false));
  return steps;
}

/** The component's gate label off every node that carries it (offline: not known, so every node). */
function ungateSteps(c: Component, nodes: readonly NodeSnapshot[]): RollbackStep[] {
  return nodes.filter((n) => n.labels === undefined || n.labels[gateLabel(c)] !== undefined).map((n) => closeGate(c, stepNode(n)));
}

function rollbackGuard(addresses: string[], on: boolean): RollbackStep {
  const { id, description } = guardStep(addresses, on);
  return { id, action: 'guard-endpoints', component: 'kube-apiserver', node: null, addresses, on, writes: 'api', description };
}

/** Where the component serves: the port its DaemonSet, else what rollback writes, else its original names. */
function portOf(c: Component, s: Snapshot, cp: RollbackComponentPlan): number {
  const ds = s.daemonSets[c];
  if (ds) return servingPort(c, ds.spec.template);
  const text = cp.nodes.map((n) => n.manifest ?? n.original).find((t): t is string => t !== null);
  const pod = text ? parsePod(text) : null;
  return pod ? servingPort(c, pod) : DEFAULT_SECURE_PORT[c];
}

const hasCheckpoint = (n: NodeSnapshot) => !!n.checkpoint && (n.checkpoint.checkpointer || n.checkpoint.active || n.checkpoint.recordedGeneration !== undefined);

function uncheckpoint(n: NodeSnapshot, port: number): RollbackStep {
  return {
    id: `uncheckpoint/${n.name}`, action: 'uncheckpoint', component: 'kube-apiserver', node: n.name, target: stepNode(n), port, writes: 'node',
    description: `on ${n.name}: remove the checkpointer and any active apiserver checkpoint, now that the static apiserver serves there`,
  };
}

export function buildRollbackPlan(s: Snapshot, o: RollbackOptions, now: Date): RollbackPlan {
  const nodes = [...s.nodes].sort((a, b) => a.name.localeCompare(b.name));
  const order = [...PIVOT_ORDER].reverse().filter((c) => o.components.includes(c));
  const components = order.map((c) => planComponent(c, nodes, s, o));
  const steps = components.flatMap((cp) => stepsFor(cp, nodes, s, o));
  // A killed run may have left the endpoint guard in force: removed, even where nothing is handed back.
  if (guardMayBeLeft(s) && o.components.includes('kube-apiserver') && !steps.some((st) => st.id === 'unguard/kube-apiserver')) steps.push(rollbackGuard([], false));
  const touched = components.some((cp) => cp.action === 'rollback') || nodes.some((n) => Object.keys(s.backups?.[n.name] ?? {}).some((c) => o.components.includes(c as Component)));
  if (touched && components.every((cp) => cp.action !== 'blocked')) {
    for (const n of nodes) {
      steps.push({ id: `cleanup/${n.name}`, action: 'cleanup', component: null, node: n.name, target: stepNode(n), components: [...o.components], writes: 'node',
        description: `on ${n.name}: remove the backups of ${o.components.join(', ')} where they run static from them and no DaemonSet is left (any other backup is kept)` });
    }
  }
  // A node no longer in the cluster (kubeadm reset, kubectl delete node) leaves its cluster copies behind: a full
  // rollback removes them, since no static pod of that node can be restored from them any more.
  if (PIVOT_ORDER.every((c) => o.components.includes(c)) && components.every((cp) => cp.action !== 'blocked')) {
    for (const gone of goneNodes(s)) {
      steps.push({ id: `forget-node/${gone}`, action: 'forget-node', component: null, node: gone, writes: 'api',
        description: `forget ${gone}, which is no longer a control-plane node of the cluster: delete its cluster copies (ConfigMap kubectl-selfhost-backup-${gone}) and its checkpoint record, if it is still gone then` });
    }
  }
  const warnings: Warning[] = [];
  if (s.journalProblem) warnings.push({ code: 'JournalUnreadable', message: `${s.journalProblem}; rollback reads the cluster itself and writes a new journal` });
  for (const n of nodes) {
    for (const c of order) {
      if (modeOf(n, c) === 'missing' && !s.backups?.[n.name]?.[c] && !s.daemonSets[c]) warnings.push({ code: 'NoSource', message: `${c} runs nowhere on ${n.name} and the cluster holds no copy of its original; rollback will look for the node copy` });
    }
  }
  return { apiVersion: ROLLBACK_PLAN_API_VERSION, kind: 'RollbackPlan', generatedAt: now.toISOString(), source: s.source, options: { toOriginal: o.toOriginal, exact: o.exact, force: o.force }, components, steps, warnings };
}

/** Nodes whose cluster copies are kept but which are no control-plane node of the cluster any more. */
export function goneNodes(s: Snapshot): string[] {
  const present = new Set(s.nodes.map((n) => n.name));
  return Object.keys(s.backups ?? {}).filter((n) => !present.has(n)).sort();
}
