// Whether one component's static pod can become its DaemonSet, checked before any change: the planner blocks the
// component with the reason, so pivot never starts on a manifest it would break.
import { COMPONENTS, type Component } from './components.ts';
import { binaryOf, mainContainer, readFlag } from './container.ts';
import type { Pod } from './k8s-types.ts';
import { servingPort } from './serving-port.ts';
import { checkSupport } from './support.ts';
import { HOST_IP, isNeutralAddress, nodeSpecificProblem } from './transform/node-neutral.ts';

export interface Convertibility {
  /** Why the component cannot be pivoted (undefined: it can). */
  blocked?: string;
  /** What the plan should say about the conversion (e.g. an address made node-neutral). */
  notes: string[];
}

export function checkConvertible(component: Component, pod: Pick<Pod, 'metadata' | 'spec'>): Convertibility {
  const c = mainContainer(pod, component);
  if (c === undefined) {
    const names = pod.spec.containers.map((x) => x.name).join(', ') || 'none';
    return { blocked: `no container of the ${component} pod is named ${component} or runs it (containers: ${names})`, notes: [] };
  }
  const binary = binaryOf(c);
  if (binary !== undefined && binary !== component && COMPONENTS.some((other) => other === binary)) {
    return { blocked: `the ${component} pod's container "${c.name}" runs ${binary}: the label and the command disagree`, notes: [] };
  }
  const support = checkSupport(component, pod);
  if (!support.ok) return { blocked: support.reason, notes: [] };
  const port = servingPort(component, pod);
  if (!(Number.isInteger(port) && port > 0)) {
    return { blocked: `--secure-port=${readFlag(c, '--secure-port')}: ${component} must serve HTTPS on a port for the hand-over to be proven`, notes: [] };
  }
  const nodeSpecific = nodeSpecificProblem(component, pod);
  if (nodeSpecific !== undefined) return { blocked: nodeSpecific, notes: [] };
  const notes = support.note ? [support.note] : [];
  const bind = readFlag(c, '--bind-address');
  if (bind !== undefined && !isNeutralAddress(bind)) {
    notes.push(`${component}: --bind-address=${bind} becomes ${HOST_IP}, each node's own address (status.hostIP): check that it is the address meant on every node`);
  }
  return { notes };
}

/** Every node's static pod checked (versions differ mid-upgrade): the first refusal, naming its node, and all notes. */
export function checkConvertibleOnNodes(component: Component, pods: ReadonlyArray<{ node: string; pod: Pick<Pod, 'metadata' | 'spec'> }>): Convertibility {
  const notes = new Set<string>();
  for (const { node, pod } of pods) {
    const verdict = checkConvertible(component, pod);
    if (verdict.blocked !== undefined) return { blocked: pods.length > 1 ? `on ${node}: ${verdict.blocked}` : verdict.blocked, notes: [] };
    verdict.notes.forEach((n) => notes.add(n));
  }
  return { notes: [...notes] };
}
