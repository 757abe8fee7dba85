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
  /** What a restart of this component costs the cluster, shown in plan steps. */
  restartCost: string;
  /** Whether an instance of this component answers API requests (and so a restart pauses the API). */
  servesApi: boolean;
}

export const COMPONENT_INFO: Record<Component, ComponentInfo> = {
  'kube-apiserver': {
    port: 6443,
    restartCost: 'API pause on this node while the apiserver restarts (typically 10-30 s)',
    servesApi: true,
  },
  'kube-controller-manager': {
    port: 10257,
    restartCost: 'controller pause during leader-election hand-over; no API pause',
    servesApi: false,
  },
  'kube-scheduler': {
    port: 10259,
    restartCost: 'scheduling pause during leader-election hand-over; no API pause',
    servesApi: false,
  },
};

export function isComponent(name: string): name is Component {
  return (COMPONENTS as readonly string[]).includes(name);
}

/** Parses a --components value ("kube-scheduler,kube-apiserver" or short names "scheduler"). */
export function parseComponents(value: string | undefined): Component[] {
  if (value === undefined || value.trim() === '' || value === 'all') return [...PIVOT_ORDER];
  const wanted = value.split(',').map((s) => s.trim()).filter(Boolean);
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
