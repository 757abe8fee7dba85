// The securityContext of every container this tool runs on a node: the short-lived node agents and the
// checkpointer static pod. Both are busybox sh working on kubeadm's files, nothing else.

/**
 * Root, because kubeadm's files are root's: the static pod manifests are 0600 in a 0700 directory, and our backups
 * and checkpoint keep that mode. As their owner, uid 0 reads and writes them through the ordinary owner bits, so
 * no capability is needed (no CAP_DAC_OVERRIDE, no CAP_CHOWN, no CAP_FOWNER: the only chmod is on files and a
 * directory uid 0 owns) and all are dropped. The root filesystem is read-only: the scripts write only into the
 * hostPath mounts they are given.
 */
export const NODE_SECURITY_CONTEXT = {
  runAsUser: 0,
  runAsGroup: 0,
  runAsNonRoot: false,
  allowPrivilegeEscalation: false,
  privileged: false,
  capabilities: { drop: ['ALL'] },
  readOnlyRootFilesystem: true,
  seccompProfile: { type: 'RuntimeDefault' },
} as const;

/**
 * Prepended to every node-side script: files created from here on are 0600 and directories 0700, kubeadm's
 * modes, whatever umask the container runtime starts the process with.
 */
export const OWNER_ONLY_UMASK = 'umask 077';
