// The way back: a control-plane pod template (the live DaemonSet's, or the spec of the pod that serves on a node)
// rendered as that node's static pod. What pivot made node-neutral is made node-specific again, from the node's
// pivot-time original where there is one (advertise and bind address, probe hosts, metadata, DNS policy), so
// everything edited through the API since (image, flags, resources) survives a rollback or a reboot.
import type { Component } from '../components.ts';
import type { Container, ObjectMeta, Pod, PodSpec } from '../k8s-types.ts';
import { MANAGED_BY_KEY, NAMESPACE, SOURCE_HASH_ANNOTATION } from '../labels.ts';
import { mainContainerIndex, readFlag, setFlag } from '../container.ts';
import { PROBE_ADDRESS } from '../steering.ts';

export interface NodeAddress {
  name: string;
  address: string | null;
}

const HOST_IP = '$(HOST_IP)';
// Set on pods by the API server, the scheduler or the DaemonSet controller; none belongs in a static pod (a
// static pod that names a ServiceAccount is refused as a mirror pod).
const POD_ONLY_FIELDS = ['nodeName', 'affinity', 'serviceAccountName', 'serviceAccount', 'priority', 'preemptionPolicy', 'schedulerName', 'nodeSelector', 'tolerations'];
const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;

/** The component's own container (src/core/container.ts), else the first. */
export function componentContainerIndex(component: Component, containers: readonly Container[]): number {
  const i = mainContainerIndex({ spec: { containers: [...containers] } }, component);
  return i === -1 ? 0 : i;
}

function nodeValue(flag: string, original: Container | undefined, node: NodeAddress): string {
  const before = readFlag(original, flag);
  if (before !== undefined && !before.includes(HOST_IP)) return before;
  if (node.address === null) throw new Error(`node ${node.name} has no InternalIP to put in ${flag}`);
  return node.address;
}

/** $(HOST_IP) made literal in command and args, with the original's value for each flag that had one. */
function literalAddresses(c: Container, original: Container | undefined, node: NodeAddress): Container {
  let out: Container = { ...c };
  for (const arg of [...(c.command ?? []), ...(c.args ?? [])]) {
    const m = /^(--[a-z-]+)=(.*\$\(HOST_IP\).*)$/.exec(arg);
    if (m) out = setFlag(out, m[1]!, m[2]!.replaceAll(HOST_IP, nodeValue(m[1]!, original, node)));
  }
  const env = (c.env ?? []).filter((e) => e.name !== 'HOST_IP');
  if (env.length > 0) out.env = env;
  else delete out.env;
  return out;
}

type Port = { name?: string; containerPort: number };

/**
 * Probe hosts and container ports as the original had them: kubeadm names the node's address as probe host and
 * declares `probe-port`; pivot dropped both (a template serves every node; a hostNetwork containerPort would keep
 * the DaemonSet pod off the node). A probe on the number of a named original port names it again.
 */
function fromOriginal(c: Container, original: Container | undefined): Container {
  const out: Container = { ...c };
  const ports = (original?.['ports'] ?? []) as Port[];
  if (ports.length > 0 && out['ports'] === undefined) out['ports'] = structuredClone(ports);
  for (const key of PROBES) {
    let probe = c[key];
    if (!probe?.httpGet) continue;
    // The steering probe address is the DaemonSet's (node-neutral.ts): the static pod probes where the original did.
    if (probe.httpGet.host === PROBE_ADDRESS) {
      const { host: _steered, ...httpGet } = probe.httpGet;
      probe = { ...probe, httpGet };
      out[key] = probe;
    }
    const host = original?.[key]?.httpGet?.host;
    const named = ports.find((p) => p.name !== undefined && p.containerPort === probe.httpGet!.port && original?.[key]?.httpGet?.port === p.name);
    if ((host !== undefined && probe.httpGet!.host === undefined) || named) {
      out[key] = { ...probe, httpGet: { ...probe.httpGet!, ...(host !== undefined && probe.httpGet!.host === undefined ? { host } : {}), ...(named ? { port: named.name! } : {}) } };
    }
  }
  return out;
}

function staticMetadata(component: Component, templateMeta: ObjectMeta, original: Pod | null): ObjectMeta {
  if (original) {
    const m = original.metadata;
    return { name: m.name ?? component, namespace: m.namespace ?? NAMESPACE, ...(m.labels ? { labels: { ...m.labels } } : {}), ...(m.annotations ? { annotations: { ...m.annotations } } : {}) };
  }
  const labels = { component, tier: 'control-plane', ...Object.fromEntries(Object.entries(templateMeta.labels ?? {}).filter(([k]) => k !== MANAGED_BY_KEY)) };
  const annotations = Object.fromEntries(Object.entries(templateMeta.annotations ?? {}).filter(([k]) => k !== SOURCE_HASH_ANNOTATION));
  return { name: component, namespace: NAMESPACE, labels, ...(Object.keys(annotations).length ? { annotations } : {}) };
}

/** Fields pivot adds to every template; a static pod carries them only if its original did. */
function originalOrNone(spec: PodSpec, original: Pod | null, keys: readonly string[]): void {
  for (const k of keys) {
    if (original && original.spec[k] !== undefined) spec[k] = structuredClone(original.spec[k]);
    else delete spec[k];
  }
}

export function toStaticPod(component: Component, template: { metadata: ObjectMeta; spec: PodSpec }, node: NodeAddress, original: Pod | null): Pod {
  const spec: PodSpec = structuredClone(template.spec);
  for (const f of POD_ONLY_FIELDS) delete spec[f];
  originalOrNone(spec, original, ['dnsPolicy', 'automountServiceAccountToken', 'enableServiceLinks', 'tolerations', 'nodeSelector', 'priority']);
  const i = componentContainerIndex(component, spec.containers);
  const before = original?.spec.containers[componentContainerIndex(component, original.spec.containers)];
  spec.containers = spec.containers.map((c, j) => (j === i ? fromOriginal(literalAddresses(c, before, node), before) : c));
  return { apiVersion: 'v1', kind: 'Pod', metadata: staticMetadata(component, template.metadata, original), spec };
}
