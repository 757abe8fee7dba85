// Recognising kubeadm's static control-plane pods, from a manifest file or a mirror pod.
import { COMPONENTS, type Component } from './components.ts';
import { mainContainer } from './container.ts';
import type { Pod } from './k8s-types.ts';

export type Recognition =
  | { kind: 'component'; component: Component }
  | { kind: 'etcd' }
  | { kind: 'foreign'; reason: string };

/** Which component a static pod is, by its `component` label (kubeadm sets it) or, failing that, its container. */
export function recognise(pod: Pod): Recognition {
  const label = pod.metadata.labels?.['component'];
  const container = pod.spec?.containers?.[0]?.name;
  const name = label ?? container ?? '';
  if (name === 'etcd') return { kind: 'etcd' };
  const match = COMPONENTS.find((c) => c === name);
  if (match === undefined) {
    return { kind: 'foreign', reason: `not a kubeadm control-plane pod (component label "${label ?? 'none'}")` };
  }
  if (!pod.spec.hostNetwork) return { kind: 'foreign', reason: `${match} without hostNetwork is not a kubeadm manifest` };
  return { kind: 'component', component: match };
}

export function isMirrorPod(pod: Pod): boolean {
  return pod.metadata.annotations?.['kubernetes.io/config.mirror'] !== undefined;
}

/** The component container's image tag, e.g. "v1.34.4" from "registry.k8s.io/kube-apiserver:v1.34.4". */
export function imageVersion(pod: Pod): string | undefined {
  const image = mainContainer(pod)?.image?.split('@')[0];
  if (image === undefined) return undefined;
  const at = image.lastIndexOf(':');
  return at > image.lastIndexOf('/') ? image.slice(at + 1) : undefined;
}
