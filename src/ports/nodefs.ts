// The node-files port: reading and changing a control-plane node's static pod directory and the backup directory
// beside it. The real implementation runs short-lived agent pods (agent.ts); tests use a map (test/unit/fakes).
export interface NodeDirs {
  /** The kubelet's staticPodPath on that node, e.g. /etc/kubernetes/manifests. */
  manifests: string;
  /**
   * This tool's own directory beside it, never inside it (the kubelet would run what it finds there), e.g.
   * /etc/kubernetes/selfhost-backup: the backups and the apiserver's inactive checkpoint.
   */
  backup: string;
}

export interface NodeFiles {
  /** The manifest's text, or null when the file is absent. */
  read(node: string, dirs: NodeDirs, file: string): Promise<string | null>;
  /** The node backup's text, or null when there is none. */
  readBackup(node: string, dirs: NodeDirs, file: string): Promise<string | null>;
  /**
   * Copies the manifest to the backup directory unless a backup exists; resolves to the backup's text (null: no
   * manifest and no backup). Refuses a backup directory that belongs to another cluster (see BackupOwner).
   */
  backup(node: string, dirs: NodeDirs, file: string, owner: BackupOwner): Promise<string | null>;
  /** Writes the manifest atomically (dotfile, then rename: the kubelet ignores dotfiles). */
  write(node: string, dirs: NodeDirs, file: string, content: string): Promise<void>;
  /** Removes the manifest, refusing unless its backup exists on the node. */
  remove(node: string, dirs: NodeDirs, file: string): Promise<void>;
  /** Writes a backup file (used to put the cluster copy back on the node). */
  writeBackup(node: string, dirs: NodeDirs, file: string, content: string): Promise<void>;
  /** Removes a manifest this tool created (the checkpointer, an active checkpoint): names starting kubectl-selfhost- only. */
  removeOwned(node: string, dirs: NodeDirs, file: string): Promise<void>;
  /** Removes one backup file (a component's original, once it runs static from it again). */
  removeBackup(node: string, dirs: NodeDirs, file: string): Promise<void>;
  /**
   * Removes what this tool keeps beside the manifest directory (backups, the inactive checkpoint). The directory
   * itself stays, empty: removing it would take a writable mount of its parent (/etc/kubernetes, pki included).
   */
  removeBackups(node: string, dirs: NodeDirs): Promise<void>;
}

/**
 * A node's processes: what pivot does to a running static pod without restarting it (src/core/port-sharing.ts).
 * The real one runs the node helper in an agent pod (agent.ts).
 */
export interface NodeSockets {
  /**
   * Sets SO_REUSEPORT on the listening socket of `port` held by the process named `exe` (as /proc/PID/comm) on
   * the node. done: false (with why) when the node cannot (no such listener, the kernel or the runtime refuses):
   * the caller restarts the static pod with the flag instead.
   */
  sharePort(node: string, dirs: NodeDirs, arch: HelperArch, exe: string, port: number): Promise<{ done: true; already: boolean } | { done: false; why: string }>;
  /**
   * Steers the port's SO_REUSEPORT group (src/core/steering.ts): `old` or `new` attaches the program (and, with
   * `migrate`, sets net.ipv4.tcp_migrate_req=1, keeping the node's value in the backup directory); `none` detaches
   * it and puts the kept value back. done: false (with why) when the node cannot: the hand-over goes on unsteered.
   */
  steer(node: string, dirs: NodeDirs, arch: HelperArch, exe: string, port: number, to: SteerTo, migrate: boolean): Promise<{ done: true; wasAttached: boolean } | { done: false; why: string }>;
}

export type { BackupOwner } from '../core/snapshot.ts';
import type { HelperArch } from '../core/port-sharing.ts';
import type { SteerTo } from '../core/steering.ts';
import type { BackupOwner } from '../core/snapshot.ts';

export function nodeDirs(staticPodPath: string): NodeDirs {
  const manifests = staticPodPath.replace(/\/+$/, '');
  const parent = manifests.slice(0, manifests.lastIndexOf('/')) || '/';
  return { manifests, backup: `${parent === '/' ? '' : parent}/selfhost-backup` };
}
