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
async function upsert(kube: KubeApi, wait: WaitCtx, tag: string, cm: ConfigMap): Promise<void> {
  // Quiet: a record written in passing is no news; only a failure to write it is (the error says so).
  await waitFor({ ...wait, emit: () => undefined }, tag, `ConfigMap kube-system/${cm.metadata.name} to be written`, async () => {
    const existing = await kube.get<ConfigMap>(paths.configMap(NAMESPACE, cm.metadata.name!));
    if (existing) {
      await kube.replace(paths.configMap(NAMESPACE, cm.metadata.name!), { ...cm, metadata: { ...cm.metadata, resourceVersion: existing.metadata['resourceVersion'] } });
    } else {
      await kube.create(paths.configMaps(NAMESPACE), cm);
    }
    return { done: true, seen: 'written' };
  });
}

export function journalStore(kube: KubeApi, wait: WaitCtx): JournalStore {
  return { save: (j: Journal) => upsert(kube, wait, '[journal]', configMap(JOURNAL_CONFIGMAP, { 'journal.json': JSON.stringify(j, null, 2) })) };
}

export async function readClusterBackup(kube: KubeApi, node: string, c: Component): Promise<string | null> {
  const cm = await kube.get<ConfigMap>(paths.configMap(NAMESPACE, backupConfigMapName(node)));
  return cm?.data?.[`${c}.yaml`] ?? null;
}

/**
 * Makes the node's backup ConfigMap hold `text` (the node copy) for a component: added, or replaced when it holds
 * another (a copy of an earlier cycle whose node copy a killed cleanup had removed already). The two copies are
 * always the same manifest.
 */
export async function writeClusterBackup(kube: KubeApi, wait: WaitCtx, node: string, c: Component, text: string): Promise<void> {
  const name = backupConfigMapName(node);
  const existing = await kube.get<ConfigMap>(paths.configMap(NAMESPACE, name));
  if (existing?.data?.[`${c}.yaml`] === text) return;
  const data = { ...(existing?.data ?? {}), [`${c}.yaml`]: text };
  await upsert(kube, wait, `[backup/${node}]`, configMap(name, data, { [BACKUP_FORMAT_ANNOTATION]: BACKUP_FORMAT }));
}

/** Removes one component's cluster copy; the ConfigMap goes with its last entry. */
export async function deleteClusterBackup(kube: KubeApi, wait: WaitCtx, node: string, c: Component): Promise<'gone' | 'kept-others'> {
  const name = backupConfigMapName(node);
  const existing = await kube.get<ConfigMap>(paths.configMap(NAMESPACE, name));
  const data = { ...(existing?.data ?? {}) };
  delete data[`${c}.yaml`];
  if (Object.keys(data).length === 0) {
    if (existing) await kube.delete(paths.configMap(NAMESPACE, name));
    return 'gone';
  }
  if (existing?.data?.[`${c}.yaml`] !== undefined) await upsert(kube, wait, `[backup/${node}]`, { ...configMap(name, data, existing.metadata.annotations as Record<string, string> | undefined) });
  return 'kept-others';
}

export interface CheckpointRecord {
  generation: number;
  image: string;
}

/** Records what a node's checkpoint was written from (ConfigMap kubectl-selfhost-checkpoints): generation and image. */
export async function recordCheckpoint(kube: KubeApi, wait: WaitCtx, node: string, record: CheckpointRecord | null): Promise<void> {
  const existing = await kube.get<ConfigMap>(paths.configMap(NAMESPACE, CHECKPOINTS_CONFIGMAP));
  const data = { ...(existing?.data ?? {}) };
  if (record === null) delete data[node];
  else data[node] = JSON.stringify(record);
  if (Object.keys(data).length === 0) {
    if (existing) await kube.delete(paths.configMap(NAMESPACE, CHECKPOINTS_CONFIGMAP));
    return;
  }
  await upsert(kube, wait, '[checkpoint]', configMap(CHECKPOINTS_CONFIGMAP, data));
}
