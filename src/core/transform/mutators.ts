// Static Pod -> DaemonSet as a table of small mutators (after kubeadm's podspec_mutation.go). Each takes the
// pod template being built and returns a new one; none does I/O. `MUTATORS[component]` lists what applies.
import type { Component } from '../components.ts';
import { mainContainer, mainContainerIndex, mapMainContainer, readFlag, setFlag } from '../container.ts';
import { CONTROL_PLANE_ROLE, GATE_VALUE, gateLabel, MANAGED_BY_KEY, MANAGED_BY_VALUE, PORT_SHARING_FLAG } from '../labels.ts';
import type { Container, Pod, PodTemplate } from '../k8s-types.ts';
import { servingPort } from '../serving-port.ts';
import { nodeNeutralAddresses, PROBES, probesWithoutNodeAddress } from './node-neutral.ts';

export { nodeNeutralAddresses, probesWithoutNodeAddress };

/** One step of the conversion; `component` names the pod's component (its own container is the one changed). */
export type Mutator = (t: PodTemplate, component?: Component) => PodTemplate;

const NODE_SPECIFIC_ANNOTATION_PREFIXES = ['kubernetes.io/config.', 'kubeadm.kubernetes.io/kube-apiserver.advertise-address'];
// Fields the kubelet or the API server set on a mirror pod; none of them belongs in a template.
const MIRROR_SPEC_FIELDS = ['nodeName', 'serviceAccountName', 'serviceAccount'];

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
 * Runs only on the nodes pivot handed the component over on (their gate label, src/core/labels.ts): not on a
 * control-plane node that joined since, whose fresh static pod does not share its port. Without a component there
 * is no gate to name: the template is left as it is.
 */
export const addNodeGate: Mutator = (t, component) =>
  component === undefined ? t : { ...t, spec: { ...t.spec, nodeSelector: { ...(t.spec.nodeSelector ?? {}), [gateLabel(component)]: GATE_VALUE } } };

/**
 * Tolerates every taint: a control-plane component must never be kept off, or evicted from, its node by a taint
 * (the nodeSelector already limits it to control-plane nodes), as kube-proxy's DaemonSet does.
 */
export const tolerateEverything: Mutator = (t) => ({
  ...t,
  spec: { ...t.spec, tolerations: [{ operator: 'Exists' }] },
});

/**
 * Static pods are critical by nature (the kubelet never evicts them); a DaemonSet pod without a priority class is
 * evictable and preemptable, so one is added when the manifest names none (kubeadm's own choice).
 */
export const criticalPriority: Mutator = (t) =>
  t.spec['priorityClassName'] ? t : { ...t, spec: { ...t.spec, priorityClassName: 'system-node-critical' } };

/** Credentials come from the node's disk (hostPath), never from a ServiceAccount token. */
export const noServiceAccountToken: Mutator = (t) => ({
  ...t,
  spec: { ...t.spec, automountServiceAccountToken: false, enableServiceLinks: false },
});

/**
 * Lets a second process bind the same port (SO_REUSEPORT), so old and new overlap during every handoff. Only the
 * component's container gets it, where its flags are (command or args).
 */
export const enablePortSharing: Mutator = (t, component) =>
  mapMainContainer(t, (c) => setFlag(c, PORT_SHARING_FLAG, 'true'), component);

/**
 * A hostNetwork pod's containerPorts are host ports, and the scheduler places no second pod that asks for a host
 * port in use: with kubeadm's `probe-port` declared, the DaemonSet pod could never be scheduled beside the static
 * pod it replaces (nor a surge pod beside the old one). Ports are dropped from every container; probes naming one
 * get its number (the component's own serving port, read from its flags, when the name is not declared).
 */
export const withoutHostPorts: Mutator = (t, component) => {
  const main = component ? mainContainerIndex(t, component) : -1;
  const served = component ? servingPort(component, t) : Number.NaN;
  return {
    ...t,
    spec: {
      ...t.spec,
      containers: t.spec.containers.map((c, i) => {
        const ports = (c['ports'] ?? []) as Array<{ name?: string; containerPort: number }>;
        const { ports: _ports, ...out } = c as Container & { ports?: unknown };
        for (const key of PROBES) {
          const probe = c[key];
          const named = probe?.httpGet?.port;
          if (typeof named !== 'string') continue;
          const declared = ports.find((p) => p.name === named)?.containerPort ?? (/^\d+$/.test(named) ? Number(named) : undefined);
          const port = declared ?? (i === main && Number.isInteger(served) && served > 0 ? served : undefined);
          if (port !== undefined) out[key] = { ...probe, httpGet: { ...probe!.httpGet, port } };
        }
        return out as Container;
      }),
    },
  };
};

/** The component's container binds its port with SO_REUSEPORT (null: no pod). */
export function sharesPort(p: { metadata?: Pod['metadata']; spec: { containers: Array<{ name?: string; command?: string[]; args?: string[] }> } } | null): boolean {
  return !!p && readFlag(mainContainer(p), PORT_SHARING_FLAG) === 'true';
}

/** The pod with --permit-port-sharing=true on the component's container (where its flags are). */
export function withPortSharing<P extends { metadata?: Pod['metadata']; spec: { containers: Container[] } }>(pod: P): P {
  return mapMainContainer(pod, (c) => setFlag(c, PORT_SHARING_FLAG, 'true'));
}

// The DNS policy is left as the static pod has it: a hostNetwork pod with the default policy resolves through
// the node, as the static pod did; ClusterFirstWithHostNet would make a cold-starting apiserver depend on CoreDNS,
// which depends on the apiserver (an etcd or webhook found by name could then never be reached).
const COMMON: Mutator[] = [
  stripMirrorFields,
  dropPriorityValue,
  criticalPriority,
  addManagedLabel,
  addControlPlaneNodeSelector,
  addNodeGate,
  tolerateEverything,
  noServiceAccountToken,
  enablePortSharing,
  withoutHostPorts,
  nodeNeutralAddresses,
  probesWithoutNodeAddress,
];

export const MUTATORS: Record<Component, Mutator[]> = {
  'kube-apiserver': COMMON,
  'kube-controller-manager': COMMON,
  'kube-scheduler': COMMON,
};
