// Live source: reads a Snapshot through the API only (no agent pod, no write): control-plane nodes, their
// kubelet's static pod path (configz), mirror pods, this tool's DaemonSets and pods, and the journal.
import { createHash } from 'node:crypto';
import { COMPONENTS, isComponent, type Component } from '../core/components.ts';
import { ClusterError } from '../core/errors.ts';
import { parseJournal, type Journal } from '../core/journal.ts';
import type { DaemonSet, Pod } from '../core/k8s-types.ts';
import { CONTROL_PLANE_ROLE, MANAGED_BY_KEY, MANAGED_BY_VALUE, NAMESPACE } from '../core/labels.ts';
import type { CheckpointSeen, DaemonPodSeen, NodeSnapshot, Snapshot, StaticPodSeen } from '../core/snapshot.ts';
import { CHECKPOINT_ROLE_LABEL } from '../core/checkpoint.ts';
import { podReady } from '../core/pod-state.ts';
import { isMirrorPod, recognise } from '../core/static-pod.ts';
import { GUARD_NAME, guardPaths } from '../core/endpoint-guard.ts';
import { ApiError, paths, type KubeApi } from '../ports/kube.ts';

export const JOURNAL_CONFIGMAP = 'kubectl-selfhost-journal';
export const CHECKPOINTS_CONFIGMAP = 'kubectl-selfhost-checkpoints';
export const DEFAULT_STATIC_POD_PATH = '/etc/kubernetes/manifests';

type LivePod = Pod & { metadata: Pod['metadata'] & { name: string; deletionTimestamp?: string }; spec: Pod['spec']; status?: { phase?: string; conditions?: Array<{ type: string; status: string }>; containerStatuses?: Array<{ restartCount?: number; image?: string }> } };
type LiveNode = { metadata: { name: string; labels?: Record<string, string> }; status?: { conditions?: Array<{ type: string; status: string }>; addresses?: Array<{ type: string; address: string }>; images?: Array<{ names?: string[] }>; nodeInfo?: { kernelVersion?: string; architecture?: string } } };
type ConfigMapSeen = { metadata: { name: string; annotations?: Record<string, string> }; data?: Record<string, string> };
export const BACKUP_CONFIGMAP_PREFIX = 'kubectl-selfhost-backup-';

export async function readCluster(kube: KubeApi, source: { context: string; server: string }): Promise<Snapshot> {
  const [nodes, pods, daemonSets, ownConfigMaps, namespace, endpointGuard] = await Promise.all([
    kube.list<LiveNode>(paths.nodes(), { labelSelector: CONTROL_PLANE_ROLE }),
    kube.list<LivePod>(paths.pods(NAMESPACE)),
    kube.list<DaemonSet>(paths.daemonSets(NAMESPACE), { labelSelector: `${MANAGED_BY_KEY}=${MANAGED_BY_VALUE}` }),
    kube.list<ConfigMapSeen>(paths.configMaps(NAMESPACE), { labelSelector: `${MANAGED_BY_KEY}=${MANAGED_BY_VALUE}` }),
    kube.get<{ metadata: { uid?: string } }>(paths.namespace(NAMESPACE)),
    guardInPlace(kube),
  ]);
  const cm = (name: string) => ownConfigMaps.find((c) => c.metadata.name === name) ?? null;
  const journalCm = cm(JOURNAL_CONFIGMAP);
  const checkpointsCm = cm(CHECKPOINTS_CONFIGMAP);
  // This tool's own static pods (checkpointer, active checkpoint) are not control-plane components to plan.
  const own = pods.filter((p) => isMirrorPod(p) && p.metadata.labels?.[CHECKPOINT_ROLE_LABEL] !== undefined);
  const mirrors = pods.filter((p) => isMirrorPod(p) && !own.includes(p));
  const hosted = pods.filter((p) => p.metadata.labels?.[MANAGED_BY_KEY] === MANAGED_BY_VALUE);
  const controlPlane = mirrors.some((p) => recognise(p).kind === 'component') || hosted.length > 0 || daemonSets.length > 0;
  if (nodes.length === 0 || !controlPlane) {
    throw new ClusterError(
      `no kubeadm static control plane in context "${source.context}": ${nodes.length === 0 ? `no node carries the ${CONTROL_PLANE_ROLE} label` : 'no control-plane mirror pods in kube-system'} (this tool converts kubeadm clusters; managed control planes have nothing to pivot)`,
    );
  }
  const snapshotNodes = await Promise.all(
    nodes.map(async (n): Promise<NodeSnapshot> => ({
      name: n.metadata.name,
      staticPodPath: await staticPodPath(kube, n.metadata.name, n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True'),
      ready: n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True',
      address: n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address,
      labels: n.metadata.labels ?? {},
      staticPods: mirrors.filter((p) => p.spec.nodeName === n.metadata.name).map(mirrorToSeen),
      daemonPods: hosted.filter((p) => p.spec.nodeName === n.metadata.name && !isMirrorPod(p)).flatMap(daemonPodSeen),
      checkpoint: checkpointSeen(n.metadata.name, own, checkpointsCm?.data),
      images: (n.status?.images ?? []).flatMap((i) => i.names ?? []),
      ...(n.status?.nodeInfo?.kernelVersion ? { kernel: n.status.nodeInfo.kernelVersion } : {}),
      ...(n.status?.nodeInfo?.architecture ? { arch: n.status.nodeInfo.architecture } : {}),
    })),
  );
  const byComponent: Snapshot['daemonSets'] = {};
  for (const ds of daemonSets) if (isComponent(ds.metadata.name ?? '')) byComponent[ds.metadata.name as Component] = ds;
  const journal = journalFrom(journalCm);
  return {
    source: { kind: 'cluster', ...source }, nodes: snapshotNodes, daemonSets: byComponent, journal: journal.journal,
    ...(journal.problem ? { journalProblem: journal.problem } : {}),
    backups: backupsFrom(ownConfigMaps),
    ...(namespace?.metadata.uid ? { clusterUid: namespace.metadata.uid } : {}),
    ...(endpointGuard !== undefined ? { endpointGuard } : {}),
  };
}

/**
 * Whether the endpoint guard's policy or binding exists (a killed run removes the binding first, so either may be
 * left). A read that fails is thrown: a guard that could not be read is not "none in place".
 */
export async function guardExists(kube: KubeApi): Promise<boolean> {
  return (await kube.get(guardPaths.policy(GUARD_NAME))) !== null || (await kube.get(guardPaths.binding(GUARD_NAME))) !== null;
}

/** guardExists for the snapshot: undefined where this user may not read the guard (a role made before status read it). */
function guardInPlace(kube: KubeApi): Promise<boolean | undefined> {
  return guardExists(kube).catch((err: unknown) => {
    if (err instanceof ApiError && err.status === 403) return undefined;
    throw err;
  });
}

/**
 * The kubelet's real static pod path from its /configz, kubeadm's default when configz is not readable. A node not
 * Ready is asked once: its kubelet is likely down, and the retries for a control plane in hand-over (about 16 s of
 * 503s from the API server's node proxy) would delay every read of the cluster, status's and pivot's refusal too.
 */
export async function staticPodPath(kube: KubeApi, node: string, ready = true): Promise<string> {
  try {
    const res = await kube.raw(paths.nodeConfigz(node), { once: !ready });
    if (res.status === 200) {
      const path = (JSON.parse(res.body) as { kubeletconfig?: { staticPodPath?: string } }).kubeletconfig?.staticPodPath;
      if (path) return path.replace(/\/+$/, '');
    }
  } catch {
    // configz is optional (RBAC on nodes/proxy); fall back to kubeadm's default below
  }
  return DEFAULT_STATIC_POD_PATH;
}

function restarts(p: LivePod): number {
  return (p.status?.containerStatuses ?? []).reduce((n, s) => n + (s.restartCount ?? 0), 0);
}

function mirrorToSeen(p: LivePod): StaticPodSeen {
  const pod: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: p.metadata.name, namespace: p.metadata.namespace, labels: p.metadata.labels, annotations: p.metadata.annotations }, spec: p.spec };
  const component = p.metadata.labels?.['component'];
  return {
    // kubeadm names each manifest after its component.
    file: component && (COMPONENTS as readonly string[]).concat('etcd').includes(component) ? `${component}.yaml` : undefined,
    pod,
    sha256: createHash('sha256').update(JSON.stringify(p.spec)).digest('hex'),
    recognition: recognise(pod),
    ready: podReady(p),
    restarts: restarts(p),
  } as StaticPodSeen;
}

function daemonPodSeen(p: LivePod): DaemonPodSeen[] {
  const component = p.metadata.labels?.['component'] ?? '';
  if (!isComponent(component)) return [];
  const generation = Number(p.metadata.labels?.['pod-template-generation']);
  return [{ component, name: p.metadata.name, ready: podReady(p), restarts: restarts(p), image: p.spec.containers[0]?.image, phase: p.status?.phase, ...(Number.isFinite(generation) ? { templateGeneration: generation } : {}) }];
}

/** A node's checkpoint record: {"generation":N,"image":"..."} (older runs wrote the generation alone). */
export function parseCheckpointRecord(text: string | undefined): { generation?: number; image?: string } {
  if (text === undefined) return {};
  if (/^\d+$/.test(text)) return { generation: Number(text) };
  try {
    const r = JSON.parse(text) as { generation?: unknown; image?: unknown };
    return { ...(typeof r.generation === 'number' ? { generation: r.generation } : {}), ...(typeof r.image === 'string' ? { image: r.image } : {}) };
  } catch {
    return {};
  }
}

function checkpointSeen(node: string, own: LivePod[], record: Record<string, string> | undefined): CheckpointSeen {
  const pod = (r: string) => own.find((p) => p.spec.nodeName === node && p.metadata.labels?.[CHECKPOINT_ROLE_LABEL] === r);
  const rec = parseCheckpointRecord(record?.[node]);
  const active = pod('checkpoint');
  return {
    ...(rec.generation !== undefined ? { recordedGeneration: rec.generation } : {}),
    ...(rec.image !== undefined ? { recordedImage: rec.image } : {}),
    active: active !== undefined,
    ...(active ? { activeSpec: active.spec } : {}),
    checkpointer: pod('checkpointer') !== undefined,
  };
}

/** The cluster copies of the originals, by node and component. */
function backupsFrom(cms: ConfigMapSeen[]): NonNullable<Snapshot['backups']> {
  const out: NonNullable<Snapshot['backups']> = {};
  for (const c of cms) {
    if (!c.metadata.name.startsWith(BACKUP_CONFIGMAP_PREFIX)) continue;
    const node = c.metadata.name.slice(BACKUP_CONFIGMAP_PREFIX.length);
    const byComponent: Partial<Record<Component, string>> = {};
    for (const [k, v] of Object.entries(c.data ?? {})) {
      const comp = k.replace(/\.yaml$/, '');
      if (isComponent(comp)) byComponent[comp] = v;
    }
    out[node] = byComponent;
  }
  return out;
}

/** A journal that cannot be read is reported (status, plan) and never trusted, but never breaks a command. */
function journalFrom(cm: { data?: Record<string, string> } | null): { journal: Journal | null; problem?: string } {
  const text = cm?.data?.['journal.json'];
  if (text === undefined) return cm ? { journal: null, problem: `ConfigMap kube-system/${JOURNAL_CONFIGMAP} has no journal.json` } : { journal: null };
  try {
    return { journal: parseJournal(text) };
  } catch (err) {
    const why = err instanceof SyntaxError ? 'it is not valid JSON' : (err as Error).message.split(';')[0];
    return { journal: null, problem: `the journal (ConfigMap kube-system/${JOURNAL_CONFIGMAP}) cannot be read: ${why}` };
  }
}
