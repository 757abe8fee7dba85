// The port each component serves on, read from its manifest: every hand-over proof, probe and the checkpointer
// must look where the component really listens (an apiserver on 7443 or 8443 is common: minikube, HA setups
// with a local load balancer on 6443).
import type { Component } from './components.ts';
import { mainContainer, readFlag } from './container.ts';
import type { Pod } from './k8s-types.ts';

/** The components' own defaults for --secure-port. */
export const DEFAULT_SECURE_PORT: Record<Component, number> = {
  'kube-apiserver': 6443,
  'kube-controller-manager': 10257,
  'kube-scheduler': 10259,
};

/**
 * The HTTPS port `component` serves on: its container's --secure-port (command or args, last one wins), else the
 * default. NaN when the flag is set to something that is not a port, 0 when serving is switched off.
 */
export function servingPort(component: Component, pod: Pick<Pod, 'metadata' | 'spec'>): number {
  const value = readFlag(mainContainer(pod, component), '--secure-port');
  if (value === undefined) return DEFAULT_SECURE_PORT[component];
  return /^\d{1,5}$/.test(value) && Number(value) <= 65535 ? Number(value) : Number.NaN;
}
