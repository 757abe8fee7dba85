// Reading what the cluster shows about a component on a node, as short descriptions for waits and failures:
// pod phase, container state and reason, restarts, and the last events of a pod.
import type { Component } from '../core/components.ts';
import { COMPONENT_INFO } from '../core/components.ts';
import { podReady, readyCondition } from '../core/pod-state.ts';
import { MANAGED_BY_KEY, MANAGED_BY_VALUE, NAMESPACE } from '../core/labels.ts';
import type { Observation } from '../core/wait.ts';
import { paths, type ApiProbe, type KubeApi } from '../ports/kube.ts';
import { mirrorPodName, type NodeRef } from './context.ts';

type ContainerState = { waiting?: { reason?: string; message?: string }; running?: { startedAt?: string }; terminated?: { reason?: string; exitCode?: number } };
export type LivePod = {
  metadata: { name: string; deletionTimestamp?: string };
  spec: { nodeName?: string; containers: Array<{ command?: string[] }>; affinity?: { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: Array<{ matchFields?: Array<{ values?: string[] }> }> } } } };
  status?: { phase?: string; conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>; containerStatuses?: Array<{ ready?: boolean; restartCount?: number; state?: ContainerState; lastState?: ContainerState }> };
};

export function describePod(p: LivePod | null): string {
  if (!p) return 'no pod';
  const cs = p.status?.containerStatuses?.[0];
  const st = cs?.state;
  const state = st?.running ? 'running' : st?.waiting ? `waiting (${st.waiting.reason ?? '?'}${st.waiting.message ? `: ${st.waiting.message.slice(0, 160)}` : ''})` : st?.terminated ? `terminated (${st.terminated.reason ?? ''} exit ${st.terminated.exitCode})` : 'no container status';
  const ready = readyCondition(p);
  const unscheduled = p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (unscheduled) return `pod ${p.metadata.name} not scheduled (${unscheduled.reason}: ${(unscheduled.message ?? '').slice(0, 200)})`;
  return `pod ${p.metadata.name} phase ${p.status?.phase ?? '?'}, container ${state}, ready ${ready}, restarts ${cs?.restartCount ?? 0}${p.metadata.deletionTimestamp ? ', terminating' : ''}`;
}

/** A pod as a wait sees it: done when ready, described either way. */
export function readiness(p: LivePod | null): Observation {
  return { done: podReady(p), seen: describePod(p) };
}

export function startedAt(p: LivePod | null): number | undefined {
  const s = p?.status?.containerStatuses?.[0]?.state?.running?.startedAt;
  return s ? Date.parse(s) / 1000 : undefined;
}

export async function daemonPod(kube: KubeApi, c: Component, node: string): Promise<LivePod | null> {
  // Not by spec.nodeName alone: a pod the scheduler has not placed yet targets its node through node affinity.
  const pods = await kube.list<LivePod>(paths.pods(NAMESPACE), { labelSelector: `${MANAGED_BY_KEY}=${MANAGED_BY_VALUE},component=${c}` });
  const targets = (p: LivePod) => p.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms?.some((t) => t.matchFields?.some((f) => f.values?.includes(node)));
  const live = pods.filter((p) => p.spec.nodeName === node || (!p.spec.nodeName && targets(p)));
  return live.find((p) => podReady(p)) ?? live[0] ?? null;
}

export async function mirrorPod(kube: KubeApi, c: Component, node: string): Promise<LivePod | null> {
  return kube.get<LivePod>(paths.pod(NAMESPACE, mirrorPodName(c, node)));
}

/** The last few events of a pod, for failure messages. */
export async function lastEvents(kube: KubeApi, podName: string): Promise<string> {
  const events = await kube.list<{ reason?: string; message?: string; lastTimestamp?: string; eventTime?: string }>(paths.events(NAMESPACE), { fieldSelector: `involvedObject.name=${podName}` });
  const last = events.slice(-3).map((e) => `${e.reason}: ${(e.message ?? '').slice(0, 160)}`);
  return last.length ? `last events: ${last.join(' | ')}` : 'no events';
}

/** Which apiserver processes answer on a node: distinct start times over fresh connections. */
export async function servingStartTimes(probe: ApiProbe, node: NodeRef, samples = 12): Promise<number[]> {
  if (!node.address) return [];
  const times = await probe.startTimes(node.address, node.port ?? COMPONENT_INFO['kube-apiserver'].port, samples);
  return [...new Set(times.map((t) => Math.round(t)))].sort((a, b) => a - b);
}

export const describeTimes = (times: number[]) => (times.length ? `processes started at ${times.map((t) => new Date(t * 1000).toISOString().slice(11, 19)).join(', ')}` : 'no /metrics answer');

/**
 * Processes on the same port that are never the pod's own. before: start times that answered before its manifest
 * was written (a static pod whose manifest was removed keeps answering while it shuts down, and one written back
 * meanwhile shows that old container in its mirror pod until the kubelet has started the new one). beside: the
 * container start times of other pods serving the port (the DaemonSet pod's): a process start time nearer to one
 * of them than to the pod's own container start is theirs.
 */
export interface Others {
  before?: readonly number[];
  beside?: readonly number[];
}

/**
 * Whether the apiserver of pod() serves on the node with its own process: a start time no earlier than its
 * container's (less 5 s of start-up) that is none of the others'.
 */
export async function observeApiserverServes(probe: ApiProbe, node: NodeRef, pod: () => Promise<LivePod | null>, only: boolean, others: Others = {}): Promise<Observation> {
  const p = await pod();
  const started = startedAt(p);
  if (!podReady(p) || started === undefined) return { done: false, seen: describePod(p) };
  if (!node.address) return { done: true, seen: `${describePod(p)}; the node has no InternalIP, so readiness is the only proof` };
  const times = await servingStartTimes(probe, node);
  // process_start_time_seconds and the container's startedAt differ by the process start-up: allow 5 s. The
  // times are rounded to the second: one within a second of a time seen before the write is that process.
  const theirs = (t: number) => (others.before ?? []).some((b) => Math.abs(b - t) <= 1) || (others.beside ?? []).some((b) => Math.abs(t - b) <= Math.abs(t - started));
  const mine = times.filter((t) => t >= started - 5 && !theirs(t));
  const done = only ? mine.length > 0 && mine.length === times.length : mine.length > 0;
  return { done, seen: `${describePod(p)}; ${describeTimes(times)}` };
}

/**
 * Whether component c serves on a node through the pod that pod() returns: for the apiserver, its own process
 * answers (alone, if only); for the others, the pod is ready.
 */
export async function observeServes(c: Component, probe: ApiProbe, node: NodeRef, pod: () => Promise<LivePod | null>, only: boolean, others: Others = {}): Promise<Observation> {
  return COMPONENT_INFO[c].servesApi ? observeApiserverServes(probe, node, pod, only, others) : readiness(await pod());
}
