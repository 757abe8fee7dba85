// Steering an apiserver hand-over (issue 13). Two processes share the port during a hand-over; left to the kernel's
// SO_REUSEPORT hash, the starting one gets about half of the new connections before it can answer them (403/500),
// and the stopping one resets the connections still queued to it. Where the node allows it, pivot and rollback:
//  1. before the instance that takes over starts on a node: set net.ipv4.tcp_migrate_req=1 there (Linux >= 5.14; a
//     closing listener's queued connections then move to the other listener instead of being reset), keeping the
//     old value in the node's backup directory, and attach the node helper's program that gives new connections
//     from other hosts to the instance that serves now (src/node-helper/steer.go);
//  2. once the new process listens beside the old one and answers /readyz at PROBE_ADDRESS, which the program always
//     gives to the new process (checked on the node by the agent, src/ports/agent.ts): to the new one;
//  3. after the old instance is gone: detach the program and put the old sysctl value back.
// The DaemonSet's apiserver probes name PROBE_ADDRESS (transform/node-neutral.ts) wherever the apiserver listens on
// every address, so that the kubelet's readiness of its pod is its own process's. Everything here is a pure decision;
// the executor is pivot/steer-steps.ts.
import { mainContainer, readFlag } from './container.ts';
import type { PodTemplate } from './k8s-types.ts';
import { atLeast, kernelVersion, sharingMethod, type HelperArch, type NodeFacts } from './port-sharing.ts';
import type { StepNode } from './plan.ts';

/** The loopback address whose connections the steering program gives to the new listener (steer.go's --probe). */
export const PROBE_ADDRESS = '127.100.0.1';

/** net.ipv4.tcp_migrate_req appeared in Linux 5.14. */
const MIGRATE_REQ_SINCE: readonly [number, number] = [5, 14];

/** Bind addresses on which PROBE_ADDRESS reaches the apiserver: every address of the node. */
const WILDCARD_BINDS = [undefined, '0.0.0.0', '::', '[::]', ''];

/** Whether an apiserver started from this template can be probed at PROBE_ADDRESS. */
export function listensOnProbeAddress(t: Pick<PodTemplate, 'spec'>): boolean {
  const c = mainContainer(t, 'kube-apiserver');
  return c !== undefined && WILDCARD_BINDS.includes(readFlag(c, '--bind-address'));
}

export type Steering =
  | { how: 'steer'; arch: HelperArch; migrate: boolean }
  | { how: 'hash'; why: string };

/** How a hand-over on this node is done: steered (and with tcp_migrate_req where the kernel has it), or as before. */
export function steeringFor(node: NodeFacts, helperArchs: readonly string[], template: Pick<PodTemplate, 'spec'> | null): Steering {
  // null: to undo only (rollback), where how the apiserver listens does not matter.
  if (template !== null && !listensOnProbeAddress(template)) return { how: 'hash', why: `the apiserver listens on one address (--bind-address), so its new process cannot be probed apart from the old one at ${PROBE_ADDRESS}` };
  // The same needs as setting the port shared in place: the helper for the node's architecture, a kernel with pidfd_getfd.
  const m = sharingMethod(node, helperArchs);
  if (m.how !== 'in-place') return { how: 'hash', why: m.why };
  // In place, so the kernel's version was read.
  return { how: 'steer', arch: m.arch, migrate: atLeast(kernelVersion(node.kernel)!, MIGRATE_REQ_SINCE) };
}

/** What each of the three steps does on the node. */
export type SteerTo = 'old' | 'new' | 'none';

/** The expected cost of one apiserver hand-over on a node, as plan states it. */
export function steeredCost(s: Steering): string {
  if (s.how === 'hash') return `new connections are shared by the kernel's hash between the two apiservers, so some get 403/500 from the starting one (not steered: ${s.why})`;
  return s.migrate
    ? 'none expected: new connections go to the serving apiserver only, and those queued to the stopping one move to the other (tcp_migrate_req)'
    : 'new connections go to the serving apiserver only; the stopping one may reset a few queued to it (kernel before 5.14: no tcp_migrate_req)';
}

/** One node's steering step of an apiserver hand-over, as pivot and rollback plan it. */
export function steerStep(target: StepNode, port: number, to: SteerTo, s: Extract<Steering, { how: 'steer' }>) {
  const what = {
    old: [`steer`, `on ${target.name}: give new connections to port ${port} from other hosts to the apiserver that serves now while the other starts (node helper, SO_ATTACH_REUSEPORT_CBPF)${s.migrate ? '; net.ipv4.tcp_migrate_req=1, its value kept' : ''}`],
    new: [`steer-new`, `on ${target.name}: once the apiserver taking over answers /readyz at ${PROBE_ADDRESS}, give new connections to it`],
    none: [`unsteer`, `on ${target.name}: detach the steering program${s.migrate ? ', put net.ipv4.tcp_migrate_req back' : ''}`],
  }[to];
  return {
    id: `${what[0]}/kube-apiserver/${target.name}`, action: 'steer' as const, component: 'kube-apiserver' as const, node: target.name, target, port, to, arch: s.arch, migrate: s.migrate,
    writes: 'node' as const, description: what[1]!, cost: 'none',
  };
}
