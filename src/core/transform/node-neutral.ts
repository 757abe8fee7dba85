// One DaemonSet template serves every control-plane node, so nothing in it may name one node. kubeadm writes the
// node's address into the apiserver's --advertise-address and its probe hosts, and operators often bind the
// components to it (--bind-address=<node IP>, for metrics scraping). Those become the downward API's
// status.hostIP ($(HOST_IP), expanded by the kubelet in command and args); a probe host that is the node's
// address is dropped (the kubelet then probes the pod IP, which for a hostNetwork pod is the node's address).
// A node address anywhere else cannot be made neutral safely and is refused (nodeSpecificProblem).
import { isIP } from 'node:net';
import type { Component } from '../components.ts';
import { mainContainer, mapMainContainer, readFlag, setFlag } from '../container.ts';
import type { Container, Pod, PodTemplate } from '../k8s-types.ts';
import { listensOnProbeAddress, PROBE_ADDRESS } from '../steering.ts';

export const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;
export const HOST_IP = '$(HOST_IP)';
const HOST_IP_ENV = { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } };

/** Flags whose value is this node's own address when it is a specific IP. */
const ADDRESS_FLAGS = ['--advertise-address', '--bind-address'] as const;

/** An address that means the same on every node: any, loopback, or already the downward API's. */
export function isNeutralAddress(value: string): boolean {
  const v = value.replace(/^\[|\]$/g, '');
  return v === '' || v === HOST_IP || v === 'localhost' || v === '0.0.0.0' || v === '::' || v === '::1' || v.startsWith('127.');
}

/**
 * The apiserver always advertises $(HOST_IP) (kubeadm's own choice, made per node); any component bound to a
 * specific address binds to $(HOST_IP). HOST_IP is defined on the component's container only when used.
 */
export function nodeNeutralAddresses(t: PodTemplate, component?: Component): PodTemplate {
  return mapMainContainer(t, (c) => {
    let out: Container = c;
    if (component === 'kube-apiserver') out = setFlag(out, '--advertise-address', HOST_IP);
    const bind = readFlag(out, '--bind-address');
    if (bind !== undefined && !isNeutralAddress(bind) && isIP(bind) !== 0) out = setFlag(out, '--bind-address', HOST_IP);
    if (readFlag(out, '--advertise-address') !== HOST_IP && readFlag(out, '--bind-address') !== HOST_IP) return out;
    return { ...out, env: [...(out.env ?? []).filter((e) => e.name !== 'HOST_IP'), HOST_IP_ENV] };
  }, component);
}

/**
 * The component's probes lose a `host` that names one node (loopback stays: it is the same on every node). The
 * apiserver's HTTP probes go to the steering probe address instead wherever it listens on every address, so that
 * during a steered hand-over the kubelet probes the DaemonSet pod's own process (src/core/steering.ts); unsteered,
 * that address reaches the port as the node's own does.
 */
export function probesWithoutNodeAddress(t: PodTemplate, component?: Component): PodTemplate {
  const probeAt = component === 'kube-apiserver' && listensOnProbeAddress(t) ? PROBE_ADDRESS : undefined;
  return mapMainContainer(t, (c) => {
    const out: Container = { ...c };
    for (const key of PROBES) {
      if (probeAt !== undefined && c[key]?.httpGet) {
        out[key] = { ...c[key], httpGet: { ...c[key]!.httpGet!, host: probeAt } };
        continue;
      }
      const host = c[key]?.httpGet?.host;
      if (host === undefined || isNeutralAddress(host)) continue;
      const { host: _host, ...httpGet } = c[key]!.httpGet!;
      out[key] = { ...c[key], httpGet };
    }
    return out;
  }, component);
}

/** The addresses of this node the manifest names: its address flags and non-loopback probe hosts. */
function nodeAddresses(c: Container, pod: Pick<Pod, 'metadata'>): Set<string> {
  const found = new Set<string>();
  for (const f of ADDRESS_FLAGS) {
    const v = readFlag(c, f);
    if (v !== undefined && !isNeutralAddress(v)) found.add(v);
  }
  for (const key of PROBES) {
    const host = c[key]?.httpGet?.host;
    if (host !== undefined && !isNeutralAddress(host)) found.add(host);
  }
  const endpoint = pod.metadata?.annotations?.['kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint'];
  if (endpoint !== undefined) found.add(endpoint.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''));
  return found;
}

/**
 * Why the component's manifest cannot become one template for every node, or undefined when it can: an address
 * flag that is not an IP, or this node's address inside any other flag (e.g. --etcd-servers=https://<node IP>:2379,
 * which on another node would point at the wrong etcd, or at this one).
 */
export function nodeSpecificProblem(component: Component, pod: Pick<Pod, 'metadata' | 'spec'>): string | undefined {
  const c = mainContainer(pod, component);
  if (c === undefined) return undefined;
  for (const f of ADDRESS_FLAGS) {
    const v = readFlag(c, f);
    if (v !== undefined && !isNeutralAddress(v) && isIP(v) === 0) {
      return `${f}=${v} is not an IP address; give an IP (it becomes each node's own address, $(HOST_IP)) or 0.0.0.0`;
    }
  }
  const addresses = nodeAddresses(c, pod);
  const flags = [...(c.command ?? []), ...(c.args ?? [])];
  for (const [i, arg] of flags.entries()) {
    const isAddressFlag = (a: string | undefined) => ADDRESS_FLAGS.some((f) => a === f || a?.startsWith(`${f}=`));
    if (isAddressFlag(arg) || (i > 0 && ADDRESS_FLAGS.some((f) => flags[i - 1] === f))) continue;
    const hit = [...addresses].find((a) => containsAddress(arg, a));
    if (hit !== undefined) {
      return `${arg} names this node's address ${hit}; a DaemonSet runs one template on every node: use an address every node shares (127.0.0.1, a load balancer, a DNS name) and plan again`;
    }
  }
  return undefined;
}

/** `address` as a whole token in `text` (10.0.0.1 is not in 10.0.0.10). */
function containsAddress(text: string, address: string): boolean {
  const escaped = address.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^0-9A-Za-z.:])${escaped}($|[^0-9A-Za-z.])`).test(text);
}
