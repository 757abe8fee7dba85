// Reboot recovery, kept as small as the problem. After a reboot the kubelet can start only what it finds on disk
// (static pods); DaemonSet pods come from the API server, which is itself a DaemonSet pod. So each control-plane
// node carries:
//  - an inactive checkpoint of the self-hosted apiserver: the DaemonSet's pod template rendered as a static pod
//    for this node, kept beside the manifest directory (the kubelet does not read it there);
//  - the checkpointer: a static pod (busybox sh, no credentials, no API) that watches the apiserver port. When
//    nothing has listened on it for 15 s it activates the checkpoint (dotfile + rename into the manifest
//    directory); once a second process listens beside it (the DaemonSet pod is back, sharing the port) it removes
//    the active checkpoint again, so the node ends self-hosted and the checkpoint never holds the port for long.
// The controller-manager and scheduler need no checkpoint: their DaemonSet pods are bound to the node already and
// the kubelet restarts them as soon as the checkpoint apiserver answers.
import type { DaemonSet, ObjectMeta, Pod, PodSpec } from './k8s-types.ts';
import { API_GROUP, MANAGED_BY_KEY, MANAGED_BY_VALUE, NAMESPACE } from './labels.ts';
import { toStaticPod, type NodeAddress } from './transform/to-static.ts';
import { NODE_SECURITY_CONTEXT, OWNER_ONLY_UMASK } from './node-security.ts';

export const CHECKPOINTER_FILE = 'kubectl-selfhost-checkpointer.yaml';
export const ACTIVE_CHECKPOINT_FILE = 'kubectl-selfhost-checkpoint-kube-apiserver.yaml';
export const INACTIVE_CHECKPOINT_FILE = 'kube-apiserver.checkpoint.yaml';
export const CHECKPOINT_POD = 'kubectl-selfhost-checkpoint-kube-apiserver';
export const CHECKPOINTER_POD = 'kubectl-selfhost-checkpointer';
export const GENERATION_ANNOTATION = `${API_GROUP}/daemonset-generation`;
export const CHECKPOINT_ROLE_LABEL = `${API_GROUP}/role`;

/**
 * The apiserver as a static pod for one node, rendered from the pod that serves there (its spec and image, proven
 * to run), never from a template that may not have run yet. The downward-API address is made literal.
 */
export function checkpointPod(serving: { metadata: ObjectMeta; spec: PodSpec }, node: NodeAddress, generation: number, original: Pod | null = null): Pod {
  const pod = toStaticPod('kube-apiserver', serving, node, original);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: CHECKPOINT_POD,
      namespace: NAMESPACE,
      labels: { component: 'kube-apiserver-checkpoint', tier: 'control-plane', [MANAGED_BY_KEY]: MANAGED_BY_VALUE, [CHECKPOINT_ROLE_LABEL]: 'checkpoint' },
      annotations: { [GENERATION_ANNOTATION]: String(generation) },
    },
    spec: pod.spec,
  };
}

/** 6443 -> "192B", as /proc/net/tcp writes ports. */
const hexPort = (port: number) => port.toString(16).toUpperCase().padStart(4, '0');

/**
 * The checkpointer's loop (POSIX sh + awk; busybox in the pod). M, B, PROC, INTERVAL and ROUNDS have the pod's
 * values by default and exist so that the unit tests run the same script against a fake /proc.
 */
export function checkpointerScript(port: number): string {
  return [
    ': "${M:=/m}" "${B:=/b}" "${PROC:=/proc}" "${INTERVAL:=5}" "${ROUNDS:=-1}"',
    `ACTIVE="$M/${ACTIVE_CHECKPOINT_FILE}"; INACTIVE="$B/${INACTIVE_CHECKPOINT_FILE}"; down=0`,
    `listeners() { cat "$PROC/net/tcp" "$PROC/net/tcp6" 2>/dev/null | awk '$4 == "0A" && $2 ~ /:${hexPort(port)}$/' | wc -l; }`,
    'while [ "$ROUNDS" -ne 0 ]; do',
    '  ROUNDS=$((ROUNDS - 1)); n=$(listeners)',
    '  if [ -f "$ACTIVE" ]; then',
    '    if [ "$n" -ge 2 ]; then rm -f "$ACTIVE"; echo "$(date -u) checkpoint deactivated: the self-hosted apiserver listens beside it"; fi',
    '  else',
    '    if [ "$n" -eq 0 ]; then down=$((down + 1)); else down=0; fi',
    '    if [ "$down" -ge 3 ] && [ -f "$INACTIVE" ]; then',
    '      cp "$INACTIVE" "$M/.checkpoint.tmp" && mv "$M/.checkpoint.tmp" "$ACTIVE" && echo "$(date -u) checkpoint activated: no apiserver listened for 3 checks"; down=0',
    '    fi',
    '  fi',
    '  sleep "$INTERVAL"',
    'done',
  ].join('\n');
}

export function checkpointerPod(image: string, dirs: { manifests: string; backup: string }, port: number): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: CHECKPOINTER_POD,
      namespace: NAMESPACE,
      labels: { [MANAGED_BY_KEY]: MANAGED_BY_VALUE, [CHECKPOINT_ROLE_LABEL]: 'checkpointer' },
    },
    spec: {
      hostNetwork: true,
      priorityClassName: 'system-node-critical',
      terminationGracePeriodSeconds: 1,
      containers: [{
        name: 'checkpointer',
        image,
        imagePullPolicy: 'IfNotPresent',
        // The umask makes the active checkpoint it copies into the manifest directory 0600, as kubeadm's files.
        command: ['sh', '-c', `${OWNER_ONLY_UMASK}\n${checkpointerScript(port)}`],
        resources: { requests: { cpu: '5m', memory: '8Mi' } },
        // The manifest directory writable (it adds and removes the active checkpoint there), its own read-only.
        volumeMounts: [{ name: 'manifests', mountPath: '/m' }, { name: 'own', mountPath: '/b', readOnly: true }],
        securityContext: NODE_SECURITY_CONTEXT,
      }],
      volumes: [
        { name: 'manifests', hostPath: { path: dirs.manifests, type: 'Directory' } },
        { name: 'own', hostPath: { path: dirs.backup, type: 'DirectoryOrCreate' } },
      ],
    },
  };
}

/**
 * The apiserver checkpoint serves on this node while the kube-apiserver DaemonSet is gone (deleted by hand): nothing
 * will replace it by waiting; only a rollback of the apiserver brings the static one back.
 */
export function checkpointOrphaned(ds: DaemonSet | undefined, node: { checkpoint?: { active: boolean } }): boolean {
  return !ds && node.checkpoint?.active === true;
}

/** The generation the node's checkpoint was written from, to tell whether the DaemonSet was edited since. */
export function checkpointMatches(ds: DaemonSet | undefined, recordedGeneration: number | undefined): boolean | null {
  const generation = ds?.metadata['generation'];
  if (typeof generation !== 'number' || recordedGeneration === undefined) return null;
  return generation === recordedGeneration;
}
