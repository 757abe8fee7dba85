// Static Pod -> DaemonSet as a table of small mutators (after kubeadm's podspec_mutation.go). Each takes the
// pod template being built and returns a new one; none does I/O. `MUTATORS[component]` lists what applies.
import type { Component } from '../components.ts';
import { CONTROL_PLANE_ROLE, MANAGED_BY_KEY, MANAGED_BY_VALUE, PORT_SHARING_FLAG } from '../labels.ts';
import type { Container, PodTemplate } from '../k8s-types.ts';

export type Mutator = (t: PodTemplate) => PodTemplate;

const NODE_SPECIFIC_ANNOTATION_PREFIXES = ['kubernetes.io/config.', 'kubeadm.kubernetes.io/kube-apiserver.advertise-address'];
// Fields the kubelet or the API server set on a mirror pod; none of them belongs in a template.
const MIRROR_SPEC_FIELDS = ['nodeName', 'serviceAccountName', 'serviceAccount'];

function mapContainers(t: PodTemplate, f: (c: Container) => Container): PodTemplate {
  return { ...t, spec: { ...t.spec, containers: t.spec.containers.map(f) } };
}

/** Keeps only labels and the annotations that are not node- or mirror-specific; drops uid, nodeName, etc. */
export const stripMirrorFields: Mutator = (t) => {
  const annotations = Object.fromEntries(
    Object.entries(t.metadata.annotations ?? {}).filter(
      ([k]) => !NODE_SPECIFIC_ANNOTATION_PREFIXES.some((p) => k.startsWith(p)),
    ),
  );
  const spec = { ...t.spec };
  for (const f of MIRROR_SPEC_FIELDS) delete spec[f];
  return {
    metadata: {
      labels: { ...(t.metadata.labels ?? {}) },
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
    spec,
  };
};

/**
 * The integer priority is resolved by admission from priorityClassName; a template that carries both is rejected
 * if they ever disagree, so only the class name (system-node-critical from kubeadm) is kept.
 */
export const dropPriorityValue: Mutator = (t) => {
  const { priority: _priority, ...spec } = t.spec;
  return { ...t, spec: spec as PodTemplate['spec'] };
};

/** Marks the template as ours; `component` and `tier` stay, so `kubectl get pods -l component=...` still works. */
export const addManagedLabel: Mutator = (t) => ({
  ...t,
  metadata: { ...t.metadata, labels: { ...(t.metadata.labels ?? {}), [MANAGED_BY_KEY]: MANAGED_BY_VALUE } },
});

/** Runs only on control-plane nodes. */
export const addControlPlaneNodeSelector: Mutator = (t) => ({
  ...t,
  spec: { ...t.spec, nodeSelector: { ...(t.spec.nodeSelector ?? {}), [CONTROL_PLANE_ROLE]: '' } },
});

/**
 * Tolerates every taint: a control-plane component must never be kept off, or evicted from, its node by a taint
 * (the nodeSelector already limits it to control-plane nodes), as kube-proxy's DaemonSet does.
 */
export const tolerateEverything: Mutator = (t) => ({
  ...t,
  spec: { ...t.spec, tolerations: [{ operator: 'Exists' }] },
});

/** hostNetwork pods need this to resolve cluster names; the static pods resolve through the node instead. */
export const clusterFirstWithHostNet: Mutator = (t) => ({
  ...t,
  spec: { ...t.spec, dnsPolicy: 'ClusterFirstWithHostNet' },
});

/** Credentials come from the node's disk (hostPath), never from a ServiceAccount token. */
export const noServiceAccountToken: Mutator = (t) => ({
  ...t,
  spec: { ...t.spec, automountServiceAccountToken: false, enableServiceLinks: false },
});

/** Lets a second process bind the same port (SO_REUSEPORT), so old and new overlap during every handoff. */
export const enablePortSharing: Mutator = (t) =>
  mapContainers(t, (c) => ({ ...c, command: withFlag(c.command ?? [], PORT_SHARING_FLAG, 'true') }));

/** Each node's apiserver advertises its own address: $(HOST_IP) from the downward API, as kubeadm did. */
export const perNodeAdvertiseAddress: Mutator = (t) =>
  mapContainers(t, (c) => ({
    ...c,
    command: withFlag(c.command ?? [], '--advertise-address', '$(HOST_IP)'),
    env: [
      ...(c.env ?? []).filter((e) => e.name !== 'HOST_IP'),
      { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
    ],
  }));

/**
 * kubeadm's apiserver probes name the node's own address as `host`; a template serves every node, so the host
 * is dropped and the kubelet probes the pod IP, which for a hostNetwork pod is the node's address.
 */
export const probesWithoutNodeAddress: Mutator = (t) =>
  mapContainers(t, (c) => {
    const out: Container = { ...c };
    for (const key of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
      const probe = c[key];
      if (probe?.httpGet?.host === undefined) continue;
      const { host: _host, ...httpGet } = probe.httpGet;
      out[key] = { ...probe, httpGet };
    }
    return out;
  });

/**
 * A hostNetwork pod's containerPorts are host ports, and the scheduler places no second pod that asks for a host
 * port in use: with kubeadm's `probe-port` declared, the DaemonSet pod could never be scheduled beside the static
 * pod it replaces (nor a surge pod beside the old one). Ports are dropped; probes naming one get its number.
 */
export const withoutHostPorts: Mutator = (t) =>
  mapContainers(t, (c) => {
    const ports = (c['ports'] ?? []) as Array<{ name?: string; containerPort: number }>;
    const { ports: _ports, ...out } = c as Container & { ports?: unknown };
    for (const key of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
      const probe = c[key];
      const named = probe?.httpGet?.port;
      if (typeof named !== 'string') continue;
      const port = ports.find((p) => p.name === named)?.containerPort ?? (/^\d+$/.test(named) ? Number(named) : undefined);
      if (port !== undefined) out[key] = { ...probe, httpGet: { ...probe!.httpGet, port } };
    }
    return out as Container;
  });

/** Every container of the pod binds its port with SO_REUSEPORT (null: no pod). */
export function sharesPort(p: { spec: { containers: Array<{ command?: string[] }> } } | null): boolean {
  return !!p && p.spec.containers.every((x) => flagValue(x.command, PORT_SHARING_FLAG) === 'true');
}

/** The pod with --permit-port-sharing=true on every container. */
export function withPortSharing<P extends { spec: { containers: Container[] } }>(pod: P): P {
  return { ...pod, spec: { ...pod.spec, containers: pod.spec.containers.map((x) => ({ ...x, command: withFlag(x.command ?? [], PORT_SHARING_FLAG, 'true') })) } };
}

/** Sets `--name=value` in a command line, replacing an existing value of the same flag. */
export function withFlag(command: string[], name: string, value: string): string[] {
  const flag = `${name}=${value}`;
  const idx = command.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (idx === -1) return [...command, flag];
  return command.map((a, i) => (i === idx ? flag : a));
}

/** Reads `--name=value` from a command line (undefined if absent; "true" for a bare boolean flag). */
export function flagValue(command: readonly string[] | undefined, name: string): string | undefined {
  const arg = (command ?? []).find((a) => a === name || a.startsWith(`${name}=`));
  if (arg === undefined) return undefined;
  return arg === name ? 'true' : arg.slice(name.length + 1);
}

const COMMON: Mutator[] = [
  stripMirrorFields,
  dropPriorityValue,
  addManagedLabel,
  addControlPlaneNodeSelector,
  tolerateEverything,
  clusterFirstWithHostNet,
  noServiceAccountToken,
  enablePortSharing,
  withoutHostPorts,
];

export const MUTATORS: Record<Component, Mutator[]> = {
  'kube-apiserver': [...COMMON, perNodeAdvertiseAddress, probesWithoutNodeAddress],
  'kube-controller-manager': COMMON,
  'kube-scheduler': COMMON,
};
