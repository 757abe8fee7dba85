// A template's identity, whichever way it was read. The same static pod reaches the planner as the kubeadm file
// (pivot reads it from the node) or as its mirror pod (plan reads the API), and the API server and kubelet fill in
// defaults and order keys their own way. The hash covers the canonical form: keys sorted, and the fields that equal
// the Pod API's defaults left out, so both readings of one manifest give one hash.
import type { PodTemplate } from '../k8s-types.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Default values by where they sit: a field that holds its default is as good as absent. */
const POD_SPEC_DEFAULTS: Record<string, Json> = {
  restartPolicy: 'Always',
  terminationGracePeriodSeconds: 30,
  schedulerName: 'default-scheduler',
  preemptionPolicy: 'PreemptLowerPriority',
  dnsPolicy: 'ClusterFirst',
  securityContext: {},
};
const CONTAINER_DEFAULTS: Record<string, Json> = {
  terminationMessagePath: '/dev/termination-log',
  terminationMessagePolicy: 'File',
  imagePullPolicy: 'IfNotPresent',
  resources: {},
};
const PROBE_DEFAULTS: Record<string, Json> = { timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 };
const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'];

const same = (a: Json | undefined, b: Json) => JSON.stringify(a) === JSON.stringify(b);

function withoutDefaults(o: Record<string, Json>, defaults: Record<string, Json>): Record<string, Json> {
  return Object.fromEntries(Object.entries(o).filter(([k, v]) => !(k in defaults && same(v, defaults[k]!))));
}

function container(c: Record<string, Json>): Record<string, Json> {
  const out = withoutDefaults(c, CONTAINER_DEFAULTS);
  for (const p of PROBES) {
    const probe = out[p] as Record<string, Json> | undefined;
    if (!probe) continue;
    const trimmed = withoutDefaults(probe, PROBE_DEFAULTS);
    const http = trimmed['httpGet'] as Record<string, Json> | undefined;
    if (http) trimmed['httpGet'] = withoutDefaults(http, { scheme: 'HTTP' });
    out[p] = trimmed;
  }
  if (Array.isArray(out['ports'])) out['ports'] = (out['ports'] as Array<Record<string, Json>>).map((port) => withoutDefaults(port, { protocol: 'TCP' }));
  if (Array.isArray(out['env'])) {
    out['env'] = (out['env'] as Array<Record<string, Json>>).map((e) => {
      const ref = (e['valueFrom'] as Record<string, Json> | undefined)?.['fieldRef'] as Record<string, Json> | undefined;
      return ref ? { ...e, valueFrom: { ...(e['valueFrom'] as Record<string, Json>), fieldRef: withoutDefaults(ref, { apiVersion: 'v1' }) } } : e;
    });
  }
  return out;
}

function sorted(v: Json): Json {
  if (Array.isArray(v)) return v.map(sorted);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k]!)]));
  return v;
}

/** The canonical form of a pod template: what its hash is taken over. Never sent to the API. */
export function canonicalTemplate(t: PodTemplate): Json {
  const spec = withoutDefaults(structuredClone(t.spec) as unknown as Record<string, Json>, POD_SPEC_DEFAULTS);
  for (const list of ['containers', 'initContainers']) {
    if (Array.isArray(spec[list])) spec[list] = (spec[list] as Array<Record<string, Json>>).map(container);
  }
  if (Array.isArray(spec['volumes'])) {
    spec['volumes'] = (spec['volumes'] as Array<Record<string, Json>>).map((v) => {
      const hp = v['hostPath'] as Record<string, Json> | undefined;
      return hp ? { ...v, hostPath: withoutDefaults(hp, { type: '' }) } : v;
    });
  }
  return sorted({ metadata: structuredClone(t.metadata) as unknown as Json, spec });
}
