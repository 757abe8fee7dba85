// The node gate's steps, pivot's and rollback's (src/core/node-gate.ts says when each runs):
//  gate:   1. the node gone: fail, naming the fix (plan again); carries the label: nothing to do;
//          2. a merge patch that sets the label (the DaemonSet controller starts the node's pod).
//  ungate: 1. the node gone, or without the label: nothing to do;
//          2. refuse while the DaemonSet pod may be the node's only instance of the component (it runs there and
//             the static pod is not ready): removing the label would take it away;
//          3. a merge patch that removes the label.
// A merge patch, not a replace: the kubelet updates its Node object all the time, and setting one label twice
// does no harm, so it needs neither a read-modify-write nor a retry on conflict.
import { PreconditionError } from '../core/errors.ts';
import { GATE_VALUE } from '../core/labels.ts';
import type { GateStep } from '../core/node-gate.ts';
import { podReady } from '../core/pod-state.ts';
import type { Step } from '../core/runner.ts';
import { paths } from '../ports/kube.ts';
import type { OpContext } from './context.ts';
import { daemonPod, describePod, mirrorPod } from './observe.ts';

type Ctx = Pick<OpContext, 'kube'>;
type Gate = Pick<GateStep, 'component' | 'node' | 'label' | 'on'>;

/** The node's labels, or null when the node is gone (a list by name: `list nodes` is granted to every verb). */
async function labelsOf(ctx: Ctx, node: string): Promise<Record<string, string> | null> {
  const [n] = await ctx.kube.list<{ metadata: { labels?: Record<string, string> } }>(paths.nodes(), { fieldSelector: `metadata.name=${node}` });
  return n ? (n.metadata.labels ?? {}) : null;
}

const setLabel = (ctx: Ctx, s: Gate, value: string | null) => ctx.kube.patch(paths.node(s.node), { metadata: { labels: { [s.label]: value } } });

export async function openGate(ctx: Ctx, s: Gate): Promise<string | void> {
  const labels = await labelsOf(ctx, s.node);
  if (labels === null) throw new PreconditionError(`node ${s.node} is gone (removed from the cluster?); run "kubectl selfhost plan" to see what pivot would do now`);
  if (labels[s.label] === GATE_VALUE) return 'the node carries the label already';
  await setLabel(ctx, s, GATE_VALUE);
}

export async function closeGate(ctx: Ctx, s: Gate, check = true): Promise<string | void> {
  const labels = await labelsOf(ctx, s.node);
  if (labels === null) return 'the node is gone';
  if (labels[s.label] === undefined) return 'the node carries no such label';
  if (check) {
    const [hosted, mirror] = await Promise.all([daemonPod(ctx.kube, s.component, s.node), mirrorPod(ctx.kube, s.component, s.node)]);
    if (hosted && !podReady(mirror)) {
      throw new PreconditionError(`not removing the label ${s.label} from ${s.node}: the DaemonSet pod ${hosted.metadata.name} runs there and the static ${s.component} does not serve (${describePod(mirror)}), so the DaemonSet pod may be its only instance there; run "kubectl selfhost rollback" again once it serves`);
    }
  }
  await setLabel(ctx, s, null);
}

async function gateHolds(ctx: Ctx, s: Gate): Promise<boolean> {
  const labels = await labelsOf(ctx, s.node);
  return s.on ? labels?.[s.label] === GATE_VALUE : labels?.[s.label] === undefined;
}

/** The run, verify and server dry run of a gate step, for pivot's and rollback's step tables. */
export function gateStepRuns(s: Gate): Pick<Step<Ctx>, 'run' | 'verify' | 'serverDryRun'> {
  return s.on
    ? { run: (ctx) => openGate(ctx, s), verify: (ctx) => gateHolds(ctx, s) }
    // A server dry run restored no static pod: the patch alone, for the API server to judge.
    : { run: (ctx) => closeGate(ctx, s), verify: (ctx) => gateHolds(ctx, s), serverDryRun: async (ctx) => { await closeGate(ctx, s, false); return 'dry run (server): the API server accepts the label removal; the static pods were not restored, so they were not checked'; } };
}
