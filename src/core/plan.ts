// The planner: a pure function from a Snapshot (what was read) to a Plan (what pivot would do). No clock, no I/O:
// `now` is passed in. `plan -o json` prints this value; the human output renders the same value.
import { COMPONENT_INFO, PIVOT_ORDER, type Component } from './components.ts';
import type { DaemonSet, Pod } from './k8s-types.ts';
import { API_GROUP, gateLabel, PORT_SHARING_FLAG, SOURCE_HASH_ANNOTATION } from './labels.ts';
import { checkConvertibleOnNodes } from './convertible.ts';
import { skippedFileWarnings } from './directory-notes.ts';
import type { BackupOwner, NodeSnapshot, Snapshot, SnapshotSource, StaticPodSeen } from './snapshot.ts';
import { imageVersion } from './static-pod.ts';
import { EXIT_CODES } from './errors.ts';
import { servingPort } from './serving-port.ts';
import { sharingMethod, type HelperArch, type SharingMethod } from './port-sharing.ts';
import { steeredCost, steeringFor, steerStep, type SteerTo } from './steering.ts';
import { toDaemonSet } from './transform/daemonset.ts';
import { GUARD_HOLD_MS, guardMayBeLeft } from './endpoint-guard.ts';
import { mainContainer, readFlag } from './container.ts';
import { isIP } from 'node:net';
import { sharesPort } from './transform/mutators.ts';
import type { Writes } from './runner.ts';
import { gated, gateText, openGate, type GateStep } from './node-gate.ts';
import { unfinished } from './journal.ts';
import { manifestsDifferReason } from './manifest-difference.ts';

export const PLAN_API_VERSION = `${API_GROUP}/v1alpha1`;

export type Mode = 'static' | 'self-hosted' | 'both' | 'missing';

export interface NodeComponentState {
  component: Component;
  mode: Mode;
  ready: boolean | null;
  version: string | null;
}

export interface PlannedNode {
  name: string;
  staticPodPath: string;
  ready: boolean | null;
  components: NodeComponentState[];
}

export type StepAction = PlannedStep['action'];

/** A node as a step needs it: everything the executor uses is in the step, nothing is looked up again by name. */
export interface StepNode {
  name: string;
  staticPodPath: string;
  /** The node's InternalIP, where its apiserver listens; null when unknown (offline). */
  address: string | null;
}

interface StepBase {
  id: string;
  component: Component;
  description: string;
  cost: string;
  /** What it changes; the runner decides from this what a dry run skips. */
  writes: Writes;
}

export type PlannedStep = StepBase & (
  | { action: 'backup'; node: string; target: StepNode; file: string; owner: BackupOwner }
  | { action: 'enable-port-sharing'; node: string; target: StepNode; file: string; port: number; method: SharingMethod }
  | { action: 'apply-daemonset'; node: null; daemonSet: DaemonSet }
  | { action: 'handover'; node: string; target: StepNode; file: string; port: number }
  | { action: 'guard-endpoints'; node: null; addresses: string[]; on: boolean }
  | { action: 'checkpoint'; node: string; target: StepNode; port: number }
  | { action: 'steer'; node: string; target: StepNode; port: number; to: SteerTo; arch: HelperArch; migrate: boolean }
  | Omit<GateStep, 'id' | 'description' | 'writes'>
);

export interface ComponentPlan {
  component: Component;
  action: 'pivot' | 'skip' | 'blocked';
  reason: string;
  /** Nodes whose static pod this run hands over. */
  nodes: string[];
  sourceNode: string | null;
  staticManifestFile: string | null;
  portSharing: { static: boolean; daemonSet: true };
  daemonSetExists: 'absent' | 'same' | 'differs';
  staticPod: Pod | null;
  daemonSet: DaemonSet | null;
}

export interface Warning {
  code: string;
  message: string;
}

export interface Plan {
  apiVersion: typeof PLAN_API_VERSION;
  kind: 'Plan';
  generatedAt: string;
  source: SnapshotSource;
  nodes: PlannedNode[];
  components: ComponentPlan[];
  steps: PlannedStep[];
  warnings: Warning[];
}

export interface PlanOptions {
  components: readonly Component[];
  /** The architectures of the node helper this build carries (none: port sharing always by restart). */
  helperArchs?: readonly string[];
}

export function modeOf(node: NodeSnapshot, component: Component): Mode {
  const isStatic = findStatic(node, component) !== undefined;
  const isHosted = node.daemonPods.some((p) => p.component === component);
  if (isStatic && isHosted) return 'both';
  if (isStatic) return 'static';
  return isHosted ? 'self-hosted' : 'missing';
}

export function findStatic(node: NodeSnapshot, component: Component): StaticPodSeen | undefined {
  return node.staticPods.find((s) => s.recognition.kind === 'component' && s.recognition.component === component);
}

function nodeState(node: NodeSnapshot): PlannedNode {
  const components = PIVOT_ORDER.map((component): NodeComponentState => {
    const mode = modeOf(node, component);
    const seen = findStatic(node, component);
    const hosted = node.daemonPods.find((p) => p.component === component);
    const ready = hosted?.ready ?? seen?.ready ?? null;
    const version = (seen ? imageVersion(seen.pod) : hosted?.image?.split(':').pop()) ?? null;
    return { component, mode, ready, version };
  });
  return { name: node.name, staticPodPath: node.staticPodPath, ready: node.ready, components };
}

export function buildPlan(snapshot: Snapshot, options: PlanOptions, now: Date): Plan {
  const nodes = [...snapshot.nodes].sort((a, b) => a.name.localeCompare(b.name));
  const warnings: Warning[] = [...commonWarnings(nodes)];
  const components = PIVOT_ORDER.filter((c) => options.components.includes(c)).map((c) =>
    planComponent(c, nodes, snapshot, warnings, options.helperArchs ?? []),
  );
  const steps = components.flatMap((cp) => stepsFor(cp, nodes, snapshot, options.helperArchs ?? []));
  // A killed run may have left the endpoint guard in force: removed at the end.
  if (options.components.includes('kube-apiserver') && guardMayBeLeft(snapshot) && !steps.some((s) => s.id === 'unguard/kube-apiserver')) steps.push(guardStep([], false));
  return {
    apiVersion: PLAN_API_VERSION,
    kind: 'Plan',
    generatedAt: now.toISOString(),
    source: snapshot.source,
    nodes: nodes.map(nodeState),
    components,
    steps,
    warnings,
  };
}

function planComponent(component: Component, nodes: NodeSnapshot[], snapshot: Snapshot, warnings: Warning[], helperArchs: readonly string[]): ComponentPlan {
  const withStatic = nodes.filter((n) => findStatic(n, component) !== undefined);
  const missing = nodes.filter((n) => modeOf(n, component) === 'missing');
  const source = withStatic[0];
  const seen = source ? findStatic(source, component) : undefined;
  const existing = snapshot.daemonSets[component];
  const verdict = checkConvertibleOnNodes(component, withStatic.map((n) => ({ node: n.name, pod: findStatic(n, component)!.pod })));
  const daemonSet = seen && verdict.blocked === undefined ? toDaemonSet(component, seen.pod) : (existing ?? null);
  const base = {
    component,
    nodes: withStatic.map((n) => n.name),
    sourceNode: source?.name ?? null,
    staticManifestFile: seen?.file ?? null,
    portSharing: { static: withStatic.length > 0 && withStatic.every((n) => sharesPort(findStatic(n, component)!.pod)), daemonSet: true as const },
    daemonSetExists: !existing ? ('absent' as const) : sameTemplate(existing, daemonSet) ? ('same' as const) : ('differs' as const),
    staticPod: seen?.pod ?? null,
    daemonSet,
  };
  // A DaemonSet made before the gate selects every control-plane node: said where this run does not replace it
  // (it is replaced, gated, when the component is handed over on some node again).
  if (withStatic.length === 0 && existing && existing.spec.template.spec.nodeSelector?.[gateLabel(component)] === undefined) {
    warnings.push({ code: 'NoNodeGate', message: `DaemonSet kube-system/${component} has no node gate (made by an older kubectl-selfhost, or edited): a control-plane node that joins gets its pod at once, beside kubeadm's static pods, which do not share the port; pivot adds the gate (${gateText(component)}) the next time it hands ${component} over on a node; to add it now, run "kubectl selfhost rollback --components ${component}", then "kubectl selfhost pivot --components ${component}"` });
  }
  if (missing.length > 0) {
    const names = missing.map((n) => n.name).join(', ');
    warnings.push({ code: 'ComponentMissing', message: `${component} runs neither as a static pod nor self-hosted on ${names}; it cannot be pivoted until it runs there (is this a kubeadm control-plane node?)` });
    return { ...base, action: 'blocked', reason: `missing on ${names}` };
  }
  if (withStatic.length === 0) return { ...base, action: 'skip', reason: 'already self-hosted on every control-plane node' };
  warnings.push(...verdict.notes.map((message) => ({ code: 'Conversion', message })));
  const hostedOn = nodes.filter((n) => modeOf(n, component) === 'self-hosted');
  const staticOnly = withStatic.filter((n) => !gated(n, component) && modeOf(n, component) === 'static');
  if (existing && hostedOn.length > 0 && staticOnly.length > 0 && !unfinished(snapshot.journal)) {
    const names = staticOnly.map((n) => n.name).join(', ');
    warnings.push({ code: 'NotHandedOver', message: `${names} ${staticOnly.length > 1 ? 'run' : 'runs'} ${component} as a static pod while its DaemonSet runs it on ${hostedOn.map((n) => n.name).join(', ')} (a control-plane node joined since the pivot?); the DaemonSet keeps off a node without the label ${gateText(component)}: this pivot hands ${component} over there (backup, port sharing, the label, hand-over)` });
  }
  if (verdict.blocked !== undefined) return { ...base, action: 'blocked', reason: verdict.blocked };
  // One template for every node: a per-node setting (a kubeadm patch on one node, a hand edit) or a node mid-upgrade
  // would be dropped, or up- or downgraded, by it. Only the nodes still static are compared.
  const differing = withStatic.slice(1)
    .map((n) => ({ n, daemonSet: toDaemonSet(component, findStatic(n, component)!.pod) }))
    .filter((o) => !sameTemplate(o.daemonSet, daemonSet));
  if (differing.length > 0) {
    const { n, daemonSet: theirs } = differing[0]!;
    const path = `${n.staticPodPath}/${findStatic(n, component)!.file ?? `${component}.yaml`}`;
    const others = differing.slice(1).map((o) => o.n.name);
    const reason = manifestsDifferReason(component, { node: source!.name, template: daemonSet!.spec.template }, { node: n.name, template: theirs.spec.template }, path, others);
    return { ...base, action: 'blocked', reason };
  }
  if (!base.portSharing.static) {
    const restarted = withStatic.map((n) => ({ n, m: sharingMethod(n, helperArchs) })).filter((x) => x.m.how === 'restart');
    if (restarted.length > 0) {
      const why = [...new Set(restarted.map((x) => (x.m as { why: string }).why))].join('; ');
      warnings.push({ code: 'NoPortSharing', message: `the static ${component} lacks ${PORT_SHARING_FLAG}: pivot first restarts it with the flag on ${restarted.map((x) => x.n.name).join(', ')} (${COMPONENT_INFO[component].restartCost}), so that the hand-over itself needs no pause; not in place because ${why}` });
    }
  }
  return { ...base, action: 'pivot', reason: `static on ${base.nodes.join(', ')}` };
}

export const stepNode = (n: NodeSnapshot): StepNode => ({ name: n.name, staticPodPath: n.staticPodPath, address: n.address ?? null });

/**
 * Per component: a backup on every node; the port-sharing restart on every node if needed; the DaemonSet; for the
 * apiserver, the checkpoints of nodes an earlier run handed over; then node by node the hand-over, for the
 * apiserver preceded by that node's checkpoint (no reboot window).
 */
function stepsFor(cp: ComponentPlan, nodes: NodeSnapshot[], snapshot: Snapshot, helperArchs: readonly string[]): PlannedStep[] {
  if (cp.action === 'blocked') return [];
  if (cp.action === 'skip') return [...clusterCopySteps(cp, nodes, snapshot), ...checkpointSteps(cp, nodes, snapshot)];
  const c = cp.component;
  const info = COMPONENT_INFO[c];
  const port = servingPort(c, cp.staticPod ?? cp.daemonSet!.spec.template);
  const on = cp.nodes.map((name) => {
    const n = nodes.find((x) => x.name === name)!;
    const file = findStatic(n, c)!.file ?? `${c}.yaml`;
    return { n, target: stepNode(n), file, path: `${n.staticPodPath}/${file}` };
  });
  const steps: PlannedStep[] = on.map(({ n, target, file, path }) => ({
    id: `backup/${c}/${n.name}`, action: 'backup', component: c, node: n.name, target, file, writes: 'node',
    owner: { clusterUid: snapshot.clusterUid ?? '', adopt: Object.keys(snapshot.backups?.[n.name] ?? {}).length > 0 },
    description: `back up ${path} on ${n.name} (node copy beside the manifest directory, cluster copy in kube-system)`, cost: 'none',
  }));
  if (!cp.portSharing.static) {
    steps.push(...on.map(({ n, target, file }): PlannedStep => {
      const method = sharingMethod(n, helperArchs);
      return {
        id: `port-sharing/${c}/${n.name}`, action: 'enable-port-sharing', component: c, node: n.name, target, file, port, method, writes: 'node',
        ...(method.how === 'in-place'
          ? { description: `set SO_REUSEPORT on the running static ${c}'s port ${port} on ${n.name} (node helper, pidfd_getfd): no restart`, cost: `none; if the node refuses it (seccomp, no CAP_SYS_PTRACE), add ${PORT_SHARING_FLAG}=true and restart instead: ${info.restartCost}` }
          : { description: `add ${PORT_SHARING_FLAG}=true to the static ${c} on ${n.name}; the kubelet restarts it (not in place: ${method.why})`, cost: info.restartCost }),
      };
    }));
  }
  // The kubernetes Service keeps the handed-over addresses throughout (src/core/endpoint-guard.ts).
  if (c === 'kube-apiserver') steps.push(guardStep(apiserverAddresses(on.map(({ n }) => n)), true));
  // Steered hand-overs (src/core/steering.ts): each node's program is attached before its DaemonSet pod can start.
  const steering = new Map(on.map(({ n }) => [n.name, c === 'kube-apiserver' ? steeringFor(n, helperArchs, cp.daemonSet!.spec.template) : null]));
  for (const { n } of on) {
    const st = steering.get(n.name);
    if (st?.how === 'steer') steps.push(steerStep(stepNode(n), port, 'old', st));
  }
  // The gate opened before the DaemonSet is applied, on every node it is to run on, so its pods start beside the
  // static ones, which share the port by now, as they did before the gate (src/core/node-gate.ts).
  const hosted = (n: NodeSnapshot) => modeOf(n, c) === 'self-hosted' || modeOf(n, c) === 'both';
  for (const n of nodes.filter((x) => (cp.nodes.includes(x.name) || hosted(x)) && !gated(x, c))) {
    const pivoting = cp.nodes.includes(n.name);
    steps.push({ ...openGate(c, stepNode(n), !pivoting), cost: pivoting && cp.daemonSetExists !== 'absent' ? `the ${c} DaemonSet's pod starts on ${n.name} at once, beside the static pod` : 'none' });
  }
  const verb = cp.daemonSetExists === 'absent' ? 'create' : cp.daemonSetExists === 'same' ? 'keep (unchanged)' : 'update';
  steps.push({
    id: `daemonset/${c}`, action: 'apply-daemonset', component: c, node: null, daemonSet: cp.daemonSet!, writes: 'api',
    description: `${verb} DaemonSet kube-system/${c}; its pods start beside the static ones, sharing the port`, cost: `one extra ${c} process per control-plane node until the hand-over`,
  });
  // Nodes already self-hosted (handed over by an earlier run) need a current checkpoint before the next hand-over.
  if (c === 'kube-apiserver') steps.push(...checkpointSteps(cp, nodes.filter((n) => !cp.nodes.includes(n.name)), snapshot));
  for (const { n, target, file, path } of on) {
    // The checkpoint first: written from the DaemonSet pod once it serves, while the static pod still runs, so
    // that a reboot at any moment of the hand-over finds an apiserver to start.
    const st = steering.get(n.name);
    if (st?.how === 'steer') steps.push(steerStep(target, port, 'new', st));
    if (c === 'kube-apiserver') steps.push(checkpointStep(n, port));
    steps.push({
      id: `handover/${c}/${n.name}`, action: 'handover', component: c, node: n.name, target, file, port, writes: 'node',
      description: `on ${n.name}: wait until the DaemonSet pod serves${info.servesApi ? ' (its own process, proven)' : ''}, remove ${path}, wait for the mirror pod to go, check health`,
      cost: st ? steeredCost(st) : info.handoverCost,
    });
    if (st?.how === 'steer') steps.push(steerStep(target, port, 'none', st));
  }
  if (c === 'kube-apiserver') steps.push(guardStep(apiserverAddresses(on.map(({ n }) => n)), false));
  return steps;
}

/** The addresses the apiservers of these nodes advertise: the static pod's --advertise-address, the node's own. */
export function apiserverAddresses(nodes: readonly NodeSnapshot[]): string[] {
  const found = new Set<string>();
  for (const n of nodes) {
    const st = findStatic(n, 'kube-apiserver');
    const flag = st ? readFlag(mainContainer(st.pod, 'kube-apiserver'), '--advertise-address') : undefined;
    if (flag !== undefined && isIP(flag) !== 0) found.add(flag);
    if (n.address !== undefined && isIP(n.address) !== 0) found.add(n.address);
  }
  return [...found].sort();
}

/**
 * The endpoint guard (src/core/endpoint-guard.ts) on, before the apiserver's DaemonSet pods start, or off, once
 * the last hand-over is done (and after a killed run, which may have left it).
 */
export function guardStep(addresses: string[], on: boolean): Extract<PlannedStep, { action: 'guard-endpoints' }> {
  return on
    ? {
      id: 'guard/kube-apiserver', action: 'guard-endpoints', component: 'kube-apiserver', node: null, addresses, on, writes: 'api',
      description: `keep ${addresses.join(', ') || 'the handed-over addresses'} in the endpoints of the kubernetes Service while the apiservers are handed over (a ValidatingAdmissionPolicy refusing their removal; in force before the first hand-over)`,
      cost: `none; without ValidatingAdmissionPolicy (Kubernetes < 1.30) clients inside the cluster lose the kubernetes Service for up to 10 s at each apiserver hand-over`,
    }
    : {
      id: 'unguard/kube-apiserver', action: 'guard-endpoints', component: 'kube-apiserver', node: null, addresses, on, writes: 'api',
      description: `remove the endpoint guard, ${GUARD_HOLD_MS / 1000} s after the last apiserver hand-over (the remaining apiserver renews the address's lease by then)`,
      cost: 'none',
    };
}

function checkpointStep(n: NodeSnapshot, port: number): PlannedStep {
  return {
    id: `checkpoint/kube-apiserver/${n.name}`, action: 'checkpoint', component: 'kube-apiserver', node: n.name, target: stepNode(n), port, writes: 'node',
    description: `on ${n.name}: once the apiserver DaemonSet pod serves there, write the apiserver checkpoint from it (inactive, beside ${n.staticPodPath}) and the checkpointer static pod that activates it after a reboot`,
    cost: 'none (one small static pod per node)',
  };
}

/** A component self-hosted on the node whose cluster copy of its original is gone (its ConfigMap deleted by hand). */
export function clusterCopyMissing(s: Snapshot, n: NodeSnapshot, c: Component): boolean {
  return s.source.kind === 'cluster' && s.backups !== undefined && modeOf(n, c) === 'self-hosted' && s.backups[n.name]?.[c] === undefined;
}

/**
 * A self-hosted component whose cluster copy of its original is gone: the backup step writes it again from the node
 * copy, so that the original is kept twice again.
 */
function clusterCopySteps(cp: ComponentPlan, nodes: NodeSnapshot[], snapshot: Snapshot): PlannedStep[] {
  const c = cp.component;
  return nodes.filter((n) => clusterCopyMissing(snapshot, n, c)).map((n): PlannedStep => ({
    id: `backup/${c}/${n.name}`, action: 'backup', component: c, node: n.name, target: stepNode(n), file: `${c}.yaml`, writes: 'node',
    owner: { clusterUid: snapshot.clusterUid ?? '', adopt: true },
    description: `write the cluster copy of ${c}'s original on ${n.name} again, from the node copy (the cluster copy is missing)`, cost: 'none',
  }));
}

/**
 * Reboot recovery for the apiserver (src/core/checkpoint.ts) on self-hosted nodes whose checkpoint is missing or
 * older than the DaemonSet (edited since): written again from the pod that serves.
 */
function checkpointSteps(cp: ComponentPlan, nodes: NodeSnapshot[], snapshot: Snapshot): PlannedStep[] {
  if (cp.component !== 'kube-apiserver') return [];
  const generation = snapshot.daemonSets['kube-apiserver']?.metadata['generation'];
  if (generation === undefined) return [];
  const stale = (n: NodeSnapshot) => n.checkpoint?.recordedGeneration === undefined || n.checkpoint.recordedGeneration !== generation || !n.checkpoint.checkpointer;
  const port = servingPort('kube-apiserver', snapshot.daemonSets['kube-apiserver']!.spec.template);
  return nodes.filter(stale).map((n) => checkpointStep(n, port));
}

function commonWarnings(nodes: NodeSnapshot[]): Warning[] {
  const out: Warning[] = [];
  if (nodes.some((n) => n.staticPods.some((s) => s.recognition.kind === 'etcd'))) {
    out.push({ code: 'EtcdStaysStatic', message: 'etcd stays a static pod: a self-hosted etcd would need the API it stores in order to start' });
  }
  for (const n of nodes) {
    for (const s of n.staticPods) {
      if (s.recognition.kind === 'foreign') out.push({ code: 'ForeignStaticPod', message: `${n.name}: ${s.file ?? s.pod.metadata.name ?? 'a static pod'} is left alone: ${s.recognition.reason}` });
    }
  }
  out.push(...skippedFileWarnings(nodes));
  if (nodes.length === 0) out.push({ code: 'NoControlPlane', message: 'no control-plane node with static pods was found' });
  out.push({ code: 'RebootRecovery', message: 'reboot recovery: pivot leaves on every control-plane node a checkpointer static pod and an inactive checkpoint of the apiserver; after a reboot the checkpoint serves until the DaemonSet pod runs again; edit the apiserver DaemonSet? run "kubectl selfhost pivot" again to re-sync the checkpoint' });
  out.push({ code: 'KubeadmUpgrade', message: 'kubeadm upgrade does not manage self-hosted components: run "kubectl selfhost rollback" before "kubeadm upgrade", then pivot again' });
  return out;
}


/** Same desired template, by the content hash the DaemonSet carries (the server adds defaults to the live one). */
function sameTemplate(a: DaemonSet | null | undefined, b: DaemonSet | null | undefined): boolean {
  const hash = (d: DaemonSet | null | undefined) => d?.metadata.annotations?.[SOURCE_HASH_ANNOTATION];
  return hash(a) !== undefined && hash(a) === hash(b);
}

/** plan's exit code, as kubectl diff: 0 nothing to do, 1 changes planned, 5 (as the verb would) when blocked. */
export function planExitCode(plan: { steps: readonly unknown[]; components: ReadonlyArray<{ action: string }> }): 0 | 1 | 5 {
  // A blocked component: pivot (or rollback) would refuse; the precondition code, as the verb itself would exit.
  if (plan.components.some((c) => c.action === 'blocked')) return EXIT_CODES.precondition as 5;
  return plan.steps.length > 0 ? 1 : 0;
}

