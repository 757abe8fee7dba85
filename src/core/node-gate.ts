// The per-node gate (src/core/labels.ts): which nodes a component's DaemonSet may run on, and the steps that open
// and close it. Pivot opens it on a node once the node's static pod shares its port, before the DaemonSet is
// applied, so the DaemonSet pods start beside the static ones exactly as they did before the gate; rollback closes
// it once the node's static pod serves again and the DaemonSet is gone, so it never takes a DaemonSet pod away
// early. Pure: the planners call it with what the snapshot read.
import type { Component } from './components.ts';
import { GATE_VALUE, gateLabel } from './labels.ts';
import type { NodeSnapshot } from './snapshot.ts';
import type { Writes } from './runner.ts';

/** A node as a gate step needs it (plan.ts's StepNode). */
export interface GateTarget {
  name: string;
  staticPodPath: string;
  address: string | null;
}

export interface GateStep {
  id: string;
  action: 'gate';
  component: Component;
  node: string;
  target: GateTarget;
  /** The label key; its value is GATE_VALUE. */
  label: string;
  /** true: set the label (pivot); false: remove it (rollback). */
  on: boolean;
  description: string;
  writes: Writes;
}

/** The node carries the component's gate label (unknown offline: not known to, so a plan labels it). */
export const gated = (n: NodeSnapshot, c: Component): boolean => n.labels?.[gateLabel(c)] === GATE_VALUE;

/** The label as `kubectl label` writes it. */
export const gateText = (c: Component): string => `${gateLabel(c)}=${GATE_VALUE}`;

/**
 * Opens the gate on a node. `hosted`: the component already runs there from a DaemonSet made before the gate
 * existed (an older kubectl-selfhost), which the DaemonSet this run applies would otherwise take away.
 */
export function openGate(c: Component, target: GateTarget, hosted: boolean): GateStep {
  return {
    id: `gate/${c}/${target.name}`, action: 'gate', component: c, node: target.name, target, label: gateLabel(c), on: true, writes: 'api',
    description: hosted
      ? `label node ${target.name} ${gateText(c)}, where ${c} runs from a DaemonSet made without the node gate, so that the DaemonSet applied next keeps its pod there`
      : `label node ${target.name} ${gateText(c)}: the ${c} DaemonSet runs a pod there from now on, beside the static pod, which shares the port by now`,
  };
}

/** Closes the gate on a node, once its static pod serves again and the DaemonSet is gone. */
export function closeGate(c: Component, target: GateTarget): GateStep {
  return {
    id: `ungate/${c}/${target.name}`, action: 'gate', component: c, node: target.name, target, label: gateLabel(c), on: false, writes: 'api',
    description: `remove the label ${gateLabel(c)} from node ${target.name}, now that the static ${c} serves there and its DaemonSet is gone (a ${c} DaemonSet made later runs there only once pivot hands it over again)`,
  };
}
