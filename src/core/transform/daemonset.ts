import { createHash } from 'node:crypto';
import type { Component } from '../components.ts';
import type { DaemonSet, Pod, PodTemplate } from '../k8s-types.ts';
import { MANAGED_BY_KEY, MANAGED_BY_VALUE, NAMESPACE, SOURCE_HASH_ANNOTATION } from '../labels.ts';
import { canonicalTemplate } from './canonical.ts';
import { MUTATORS } from './mutators.ts';

/** The pod template a static pod becomes, after every mutator of its component has run in table order. */
export function toPodTemplate(component: Component, pod: Pod): PodTemplate {
  const start: PodTemplate = structuredClone({ metadata: pod.metadata, spec: pod.spec });
  return MUTATORS[component].reduce((t, mutate) => mutate(t, component), start);
}

/**
 * The DaemonSet wrapper. Its selector keeps `component`/`tier` and adds the managed-by label, which the mirror
 * pods lack: a selector matching mirror pods would let the DaemonSet controller count the static pod as its own.
 * The update strategy surges a new pod before the old one goes (maxSurge 1, maxUnavailable 0), which the
 * port-sharing flag makes possible on a hostNetwork port.
 */
export function toDaemonSet(component: Component, pod: Pod): DaemonSet {
  const template = toPodTemplate(component, pod);
  const labels = template.metadata.labels ?? {};
  const matchLabels: Record<string, string> = { [MANAGED_BY_KEY]: MANAGED_BY_VALUE, component };
  if (labels['tier'] !== undefined) matchLabels['tier'] = labels['tier'];
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: {
      name: component,
      namespace: NAMESPACE,
      labels: { ...matchLabels },
      annotations: { [SOURCE_HASH_ANNOTATION]: templateHash(template) },
    },
    spec: {
      selector: { matchLabels },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      revisionHistoryLimit: 10,
      template: { ...template, metadata: { ...template.metadata, labels: { ...labels, ...matchLabels } } },
    },
  };
}

/**
 * Identifies a template by content, so a later run can tell an unchanged DaemonSet from an edited one; the same
 * whether the static pod was read from its file or from its mirror pod (see canonical.ts).
 */
export function templateHash(template: PodTemplate): string {
  return createHash('sha256').update(JSON.stringify(canonicalTemplate(template))).digest('hex');
}
