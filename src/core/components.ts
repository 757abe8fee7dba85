import { UsageError } from './errors.ts';

// The control-plane components this tool knows, as one table. etcd is listed so that the tool can say why it
// stays static; it is never converted (a self-hosted etcd would need the API it stores to start).

export const COMPONENTS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
export type Component = (typeof COMPONENTS)[number];

// Pivot order, defended in README "Design decisions": the components whose handoff costs least go first, so a
// problem with the cluster's DaemonSet machinery shows up on the scheduler (a scheduling pause) before it can
// touch the API server; the apiserver goes last, when its DaemonSet pods are scheduled and managed by the
// already self-hosted scheduler and controller-manager. Rollback walks the same list backwards.
export const PIVOT_ORDER: readonly Component[] = ['kube-scheduler', 'kube-controller-manager', 'kube-apiserver'];

export interface ComponentInfo {
  /** The port the component serves on (hostNetwork), used for health checks and port-sharing. */
  port: number;
  /** What the kubelet's restart of the static pod with --permit-port-sharing costs, shown in plan steps. */
  restartCost: string;
  /** What the hand-over from the static pod to the DaemonSet pod costs, both sharing the port. */
  handoverCost: string;
  /** Whether an instance of this component answers API requests (and so a restart pauses the API). */
  servesApi: boolean;
}

/** The label that starts a cost which takes the API away; the plan shows those in red, apart from the rest. */
export const API_OUTAGE = 'API outage';

// The costs are the figures measured on the test bed (README "Measured on the test bed": one control-plane node,
// 25 requests a second to the API, each on a new connection). Keep them in step with that table.
export const COMPONENT_INFO: Record<Component, ComponentInfo> = {
  'kube-apiserver': {
    port: 6443,
    restartCost: `${API_OUTAGE}: this node's apiserver is down while the kubelet restarts it (40 s without an answer on the single-node test bed; README "Measured on the test bed"); with one control-plane node that is the whole API`,
    handoverCost: 'no outage at the node\'s address: both apiservers serve the port; about 1 % of requests fail with 403/500, the longest gap under 0.5 s; clients in the cluster, through the kubernetes Service (its address kept by the endpoint guard), the same, with gaps of up to 2 s (README "Measured on the test bed")',
    servesApi: true,
  },
  'kube-controller-manager': {
    port: 10257,
    restartCost: 'no API outage; controllers pause until the restarted controller-manager holds the leader lease again (not measured separately)',
    handoverCost: 'no API outage; controllers pause while the leader lease moves to the DaemonSet pod (not measured separately)',
    servesApi: false,
  },
  'kube-scheduler': {
    port: 10259,
    restartCost: 'no API outage; new pods wait to be scheduled until the restarted scheduler holds the leader lease again (not measured separately)',
    handoverCost: 'no API outage; new pods wait to be scheduled while the leader lease moves to the DaemonSet pod (not measured separately)',
    servesApi: false,
  },
};

/** Whether a plan step's cost takes the API away (the plan sets those apart). */
export function isApiOutage(cost: string): boolean {
  return cost.startsWith(API_OUTAGE);
}

export function isComponent(name: string): name is Component {
  return (COMPONENTS as readonly string[]).includes(name);
}

/**
 * Parses --components: undefined (the flag not given) is every component; otherwise names, full
 * ("kube-scheduler") or short ("scheduler"), or "all", from a comma-separated value or from several uses of the
 * flag (they add up, as kubectl's list flags do). Given but naming nothing ("", ",,") is an error, not "all".
 */
export function parseComponents(value: string | readonly string[] | undefined): Component[] {
  if (value === undefined) return [...PIVOT_ORDER];
  const wanted = (typeof value === 'string' ? [value] : value).flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
  if (wanted.length === 0) throw new UsageError(`--components needs at least one of ${COMPONENTS.join(', ')} (or leave the flag out for all of them)`);
  if (wanted.includes('all')) return [...PIVOT_ORDER];
  const out: Component[] = [];
  for (const w of wanted) {
    const full = w.startsWith('kube-') ? w : `kube-${w}`;
    if (!isComponent(full)) {
      throw new UsageError(
        `unknown component "${w}" in --components (use any of ${COMPONENTS.join(', ')}; etcd always stays static)`,
      );
    }
    if (!out.includes(full)) out.push(full);
  }
  return PIVOT_ORDER.filter((c) => out.includes(c));
}
