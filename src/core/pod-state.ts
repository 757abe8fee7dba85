// What a pod's status says, read the same way by status (the snapshot) and by the waits of pivot and rollback.

export interface PodStateFields {
  metadata: { deletionTimestamp?: string };
  status?: { conditions?: Array<{ type: string; status: string }> };
}

/** The kubelet reports the Ready condition True (whether or not the pod is being deleted). */
export function readyCondition(p: Pick<PodStateFields, 'status'>): boolean {
  return p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
}

/** Ready: the kubelet reports the Ready condition True and the pod is not being deleted (it will not serve for long). */
export function podReady(p: PodStateFields | null | undefined): boolean {
  return !!p && !p.metadata.deletionTimestamp && readyCondition(p);
}
