// The planner: a pure function from a Snapshot (what was read) to a Plan (what pivot would do). No clock, no I/O:
// `now` is passed in. `plan -o json` prints this value; the human output renders the same value.
import { COMPONENT_INFO, PIVOT_ORDER, type Component } from './components.ts';
import type { DaemonSet, Pod } from './k8s-types.ts';
import { API_GROUP, PORT_SHARING_FLAG, SOURCE_HASH_ANNOTATION } from './labels.ts';
import { checkConvertibleOnNodes } from './convertible.ts';
import { skippedFileWarnings } from './directory-notes.ts';
import type { NodeSnapshot, Snapshot, SnapshotSource, StaticPodSeen } from './snapshot.ts';
import { imageVersion } from './static-pod.ts';
import { toDaemonSet } from './transform/daemonset.ts';
import { sharesPort } from './transform/mutators.ts';

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

export type StepAction = 'backup' | 'enable-port-sharing' | 'apply-daemonset' | 'handover' | 'checkpoint';

export interface PlannedStep {
  id: string;
  action: StepAction;
  component: Component;
  node: string | null;
  description: string;
  cost: string;
}

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
    planComponent(c, nodes, snapshot, warnings),
  );
  const steps = components.flatMap((cp) => [...stepsFor(cp, nodes), ...checkpointSteps(cp, nodes, snapshot)]);
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

function planComponent(component: Component, nodes: NodeSnapshot[], snapshot: Snapshot, warnings: Warning[]): ComponentPlan {
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
  if (missing.length > 0) {
    const names = missing.map((n) => n.name).join(', ');
    warnings.push({ code: 'ComponentMissing', message: `${component} runs neither as a static pod nor self-hosted on ${names}; it cannot be pivoted until it runs there (is this a kubeadm control-plane node?)` });
    return { ...base, action: 'blocked', reason: `missing on ${names}` };
  }
  if (withStatic.length === 0) return { ...base, action: 'skip', reason: 'already self-hosted on every control-plane node' };
  warnings.push(...verdict.notes.map((message) => ({ code: 'Conversion', message })));
  if (verdict.blocked !== undefined) return { ...base, action: 'blocked', reason: verdict.blocked };
  for (const other of withStatic.slice(1)) {
    if (!sameTemplate(toDaemonSet(component, findStatic(other, component)!.pod), daemonSet)) {
      warnings.push({ code: 'ManifestsDiffer', message: `${component} on ${other.name} differs from ${source!.name} beyond its node address; the DaemonSet uses ${source!.name}'s manifest (compare both before pivoting)` });
    }
  }
  if (!base.portSharing.static) {
    warnings.push({ code: 'NoPortSharing', message: `the static ${component} lacks ${PORT_SHARING_FLAG}: pivot first restarts it with the flag (${COMPONENT_INFO[component].restartCost}), so that the hand-over itself needs no pause` });
  }
  return { ...base, action: 'pivot', reason: `static on ${base.nodes.join(', ')}` };
}

function stepsFor(cp: ComponentPlan, nodes: NodeSnapshot[]): PlannedStep[] {
  if (cp.action !== 'pivot') return [];
  const c = cp.component;
  const info = COMPONENT_INFO[c];
  const file = (node: string) => {
    const n = nodes.find((x) => x.name === node)!;
    return `${n.staticPodPath}/${findStatic(n, c)!.file ?? `${c}.yaml`}`;
  };
  const perNode = (f: (node: string) => PlannedStep) => cp.nodes.map(f);
  const steps: PlannedStep[] = [
    ...perNode((node) => ({ id: `backup/${c}/${node}`, action: 'backup', component: c, node, description: `back up ${file(node)} on ${node} (node copy beside the manifest directory, cluster copy in kube-system)`, cost: 'none' })),
  ];
  if (!cp.portSharing.static) {
    steps.push(...perNode((node): PlannedStep => ({ id: `port-sharing/${c}/${node}`, action: 'enable-port-sharing', component: c, node, description: `add ${PORT_SHARING_FLAG}=true to the static ${c} on ${node}; the kubelet restarts it`, cost: info.restartCost })));
  }
  const verb = cp.daemonSetExists === 'absent' ? 'create' : cp.daemonSetExists === 'same' ? 'keep (unchanged)' : 'update';
  steps.push({ id: `daemonset/${c}`, action: 'apply-daemonset', component: c, node: null, description: `${verb} DaemonSet kube-system/${c}; its pods start beside the static ones, sharing the port`, cost: `one extra ${c} process per control-plane node until the hand-over` });
  steps.push(...perNode((node): PlannedStep => ({
    id: `handover/${c}/${node}`, action: 'handover', component: c, node,
    description: `on ${node}: wait until the DaemonSet pod serves${info.servesApi ? ' (its own process, proven)' : ''}, remove ${file(node)}, wait for the mirror pod to go, check health`,
    cost: info.servesApi ? 'no API pause expected: both processes serve the port during the hand-over' : info.restartCost.replace(/^.*?;/, 'leader-election hand-over;'),
  })));
  return steps;
}

/**
 * Reboot recovery for the apiserver (src/core/checkpoint.ts): written on every node after its hand-over, and
 * written again whenever the DaemonSet has been edited since (its generation differs from the recorded one).
 */
function checkpointSteps(cp: ComponentPlan, nodes: NodeSnapshot[], snapshot: Snapshot): PlannedStep[] {
  if (cp.component !== 'kube-apiserver' || cp.action === 'blocked') return [];
  const generation = snapshot.daemonSets['kube-apiserver']?.metadata['generation'];
  const stale = (n: NodeSnapshot) => cp.action === 'pivot' || n.checkpoint?.recordedGeneration === undefined || n.checkpoint.recordedGeneration !== generation || !n.checkpoint.checkpointer;
  return nodes.filter(stale).map((n) => ({
    id: `checkpoint/kube-apiserver/${n.name}`, action: 'checkpoint', component: 'kube-apiserver', node: n.name,
    description: `on ${n.name}: write the apiserver checkpoint (inactive, beside ${n.staticPodPath}) from the DaemonSet as it is now, and the checkpointer static pod that activates it after a reboot`,
    cost: 'none (one small static pod per node)',
  }));
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

/** plan's exit code, as kubectl diff: 0 nothing to do, 1 changes planned. */
export function planExitCode(plan: Plan): 0 | 1 {
  return plan.steps.length > 0 ? 1 : 0;
}

