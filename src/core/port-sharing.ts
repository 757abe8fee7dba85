// How pivot gives a static component SO_REUSEPORT before its hand-over, decided per node from what the node reports
// (kernel, architecture) and what this build carries (the node helper's architectures):
//  - in place: the node helper (src/node-helper) sets SO_REUSEPORT on the running process's listening socket
//    through pidfd_getfd (Linux >= 5.6); nothing restarts, the hand-over that follows is the only change;
//  - restart: the manifest gets --permit-port-sharing and the kubelet restarts the static pod (an outage on a
//    single node: the old process must end before the new one starts). The fallback wherever in place cannot work,
//    and at run time when the node refuses it (seccomp, no CAP_SYS_PTRACE: the helper says so).

export type HelperArch = 'amd64' | 'arm64';
export const HELPER_ARCHS: readonly HelperArch[] = ['amd64', 'arm64'];

/** pidfd_getfd(2) appeared in Linux 5.6. */
const PIDFD_GETFD_SINCE: readonly [number, number] = [5, 6];

export type SharingMethod = { how: 'in-place'; arch: HelperArch } | { how: 'restart'; why: string };

export interface NodeFacts {
  /** node.status.nodeInfo.kernelVersion, e.g. 6.1.0-18-amd64 */
  kernel?: string | undefined;
  /** node.status.nodeInfo.architecture, e.g. amd64 */
  arch?: string | undefined;
}

/** major.minor of node.status.nodeInfo.kernelVersion (6.1.0-18-amd64: [6, 1]); null when it does not start so. */
export function kernelVersion(kernel: string | undefined): [number, number] | null {
  const m = /^(\d+)\.(\d+)/.exec(kernel ?? '');
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** Whether kernel version v is `since` or later. */
export function atLeast(v: readonly [number, number], since: readonly [number, number]): boolean {
  return v[0] > since[0] || (v[0] === since[0] && v[1] >= since[1]);
}

export function sharingMethod(node: NodeFacts, helperArchs: readonly string[]): SharingMethod {
  // The node's facts first: an offline plan (no node to ask) then reads the same whatever this build carries.
  if (!node.arch) return { how: 'restart', why: 'the node\'s architecture is unknown' };
  if (helperArchs.length === 0) return { how: 'restart', why: 'this kubectl-selfhost carries no node helper' };
  if (!helperArchs.includes(node.arch)) return { how: 'restart', why: `no node helper for ${node.arch} (${helperArchs.join(', ')} only)` };
  const v = kernelVersion(node.kernel);
  if (!v) return { how: 'restart', why: `the node's kernel version is unknown${node.kernel ? ` ("${node.kernel}")` : ''}` };
  if (!atLeast(v, PIDFD_GETFD_SINCE)) return { how: 'restart', why: `kernel ${v.join('.')} lacks pidfd_getfd (Linux ${PIDFD_GETFD_SINCE.join('.')})` };
  return { how: 'in-place', arch: node.arch as HelperArch };
}

/** The ConfigMap that carries the node helper for one architecture to the agent pod, for the length of one call. */
export const helperConfigMapName = (arch: HelperArch): string => `kubectl-selfhost-node-helper-${arch}`;

/** The process name the helper looks for (/proc/PID/comm holds at most 15 characters). */
export const processName = (component: string): string => component.slice(0, 15);
