// The cluster-side records: the journal and the cluster copies of the backups, both ConfigMaps in kube-system.
// Static manifests hold flags and file paths, never key material, so a ConfigMap is the right home for a copy.
import type { Component } from '../core/components.ts';
import type { Journal } from '../core/journal.ts';
import { API_GROUP, MANAGED_BY_KEY, MANAGED_BY_VALUE, NAMESPACE } from '../core/labels.ts';
import type { JournalStore } from '../core/runner.ts';
import { waitFor, type WaitCtx } from '../core/wait.ts';
import { paths, type KubeApi, type Obj } from '../ports/kube.ts';
import { CHECKPOINTS_CONFIGMAP, JOURNAL_CONFIGMAP } from '../sources/cluster.ts';

export const BACKUP_FORMAT = 'v1';
export const BACKUP_FORMAT_ANNOTATION = `${API_GROUP}/backup-format`;
export const backupConfigMapName = (node: string) => `kubectl-selfhost-backup-${node}`.slice(0, 253);

type ConfigMap = Obj & { data?: Record<string, string> };

function configMap(name: string, data: Record<string, string>, annotations: Record<string, string> = {}): ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NAMESPACE, labels: { [MANAGED_BY_KEY]: MANAGED_BY_VALUE }, annotations }, data };
}

/** Creates or updates a ConfigMap; retried while the API hands over between apiserver processes. */
async function upsert(kube: KubeApi, wait: WaitCtx, tag: string, cm: ConfigMap, dryRun: boolean): Promise<void> {
  // Quiet: a record written in passing is no news; only a failure to write it is (the error says so).
  await waitFor({ ...wait, emit: () => undefined }, tag, `ConfigMap kube-system/${cm.metadata.name} to be written`, async () => {
    const existing = await kube.get<ConfigMap>(paths.configMap(NAMESPACE, cm.metadata.name!));
    if (existing) {
      await kube.replace(paths.configMap(NAMESPACE, cm.metadata.name!), { ...cm, metadata: { ...cm.metadata, resourceVersion: existing.metadata['resourceVersion'] } }, { dryRun });
    } else {
      await kube.create(paths.configMaps(NAMESPACE), cm, { dryRun });
    }
    return { done: true, seen: 'written' };
  });
}

export function journalStore(kube: KubeApi, wait: WaitCtx, dryRun: boolean): JournalStore {
  return { save: (j: Journal) => upsert(kube, wait, '[journal]', configMap(JOURNAL_CONFIGMAP, { 'journal.json': JSON.stringify(j, null, 2) }), dryRun) };
}

export async function readClusterBackup(kube: KubeApi, node: string, c: Component): Promise<string | null> {
  const cm = await kube.get<ConfigMap>(paths.configMap(NAMESPACE, backupConfigMapName(node)));
  return cm?.data?.[`${c}.yaml`] ?? null;
}

/** Adds a component's manifest to the node's backup ConfigMap unless it holds one already (the first copy is the original). */
export async function writeClusterBackup(kube: KubeApi, wait: WaitCtx, node: string, c: Component, text: string, dryRun: boolean): Promise<void> {
  const name = backupConfigMapName(node);
  const existing = await kube.get<ConfigMap>(paths.configMap(NAMESPACE, name));
  if (existing?.data?.[`${c}.yaml`] !== undefined) return;
  const data = { ...(existing?.data ?? {}), [`${c}.yaml`]: text };
  await upsert(kube, wait, `[backup/${node}]`, configMap(name, data, { [BACKUP_FORMAT_ANNOTATION]: BACKUP_FORMAT }), dryRun);
}

export async function deleteClusterBackups(kube: KubeApi, node: string, dryRun: boolean): Promise<void> {
  await kube.delete(paths.configMap(NAMESPACE, backupConfigMapName(node)), { dryRun });
}

/** Records the DaemonSet generation a node's checkpoint was written from (ConfigMap kubectl-selfhost-checkpoints). */
export async function recordCheckpoint(kube: KubeApi, wait: WaitCtx, node: string, generation: number | null): Promise<void> {
  const existing = await kube.get<ConfigMap>(paths.configMap(NAMESPACE, CHECKPOINTS_CONFIGMAP));
  const data = { ...(existing?.data ?? {}) };
  if (generation === null) delete data[node];
  else data[node] = String(generation);
  if (Object.keys(data).length === 0) {
    await kube.delete(paths.configMap(NAMESPACE, CHECKPOINTS_CONFIGMAP));
    return;
  }
  await upsert(kube, wait, '[checkpoint]', configMap(CHECKPOINTS_CONFIGMAP, data), false);
}
