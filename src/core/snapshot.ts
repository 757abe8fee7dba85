// What was read from the cluster or a manifests directory: the planner's only input besides options and time.
import type { Component } from './components.ts';
import type { DaemonSet, Pod, PodSpec } from './k8s-types.ts';
import type { Recognition } from './static-pod.ts';
import type { Journal } from './journal.ts';

export type SnapshotSource =
  | { kind: 'cluster'; context: string; server: string }
  | { kind: 'manifests-dir'; path: string };

export interface StaticPodSeen {
  /** The manifest file name in the static pod directory, when known (offline, or read by a node agent). */
  file?: string;
  pod: Pod;
  /** sha256 of the manifest bytes (offline) or of the mirror pod's spec (live): identifies the source. */
  sha256: string;
  recognition: Recognition;
  /** Live only: the mirror pod's readiness and restarts. */
  ready?: boolean;
  restarts?: number;
}

export interface SkippedFile {
  file: string;
  reason: string;
}

export interface DaemonPodSeen {
  component: Component;
  name: string;
  ready: boolean;
  restarts: number;
  image?: string;
  phase?: string;
  /** The DaemonSet generation whose template the pod runs (label pod-template-generation). */
  templateGeneration?: number;
}

export interface NodeSnapshot {
  name: string;
  staticPodPath: string;
  /** null when unknown (offline). */
  ready: boolean | null;
  /** The node's InternalIP, where its apiserver listens (live only). */
  address?: string;
  /** The Node object's labels (live only): which components' gate labels (src/core/labels.ts) it carries. */
  labels?: Record<string, string>;
  staticPods: StaticPodSeen[];
  daemonPods: DaemonPodSeen[];
  /** Files of the static pod directory that hold no pod (offline only), left alone as the kubelet does. */
  skipped?: SkippedFile[];
  /** Reboot recovery on this node (live only): what the cluster record and the mirror pods show. */
  checkpoint?: CheckpointSeen;
  /** The images the kubelet reports present on the node (live only): can a checkpoint start without a pull? */
  images?: string[];
  /** node.status.nodeInfo (live only): what pivot can do on the node without a restart (src/core/port-sharing.ts). */
  kernel?: string;
  arch?: string;
}

export interface CheckpointSeen {
  /** The DaemonSet generation the node's checkpoint was written from (cluster record), if one was written. */
  recordedGeneration?: number;
  /** The checkpoint runs (its mirror pod exists): the node is recovering from a reboot. */
  active: boolean;
  /** The checkpointer static pod runs. */
  checkpointer: boolean;
  /** The image the checkpoint starts (cluster record), and the active checkpoint's spec when it runs. */
  recordedImage?: string;
  activeSpec?: PodSpec;
}

export interface Snapshot {
  source: SnapshotSource;
  nodes: NodeSnapshot[];
  /** DaemonSets this tool manages that already exist. */
  daemonSets: Partial<Record<Component, DaemonSet & { status?: DaemonSetStatus }>>;
  journal: Journal | null;
  /** A journal ConfigMap that could not be read as one (corrupt, foreign): what is wrong with it. */
  journalProblem?: string;
  /** Cluster copies of the pivot-time originals: node -> component -> manifest text (live only). */
  backups?: Record<string, Partial<Record<Component, string>>>;
  /**
   * The endpoint guard (its ValidatingAdmissionPolicy or binding, src/core/endpoint-guard.ts) exists (live only;
   * undefined where it could not be read). Outside a run it was left by one that stopped.
   */
  endpointGuard?: boolean;
  /** The UID of kube-system, which names this cluster in the backups' records (live only). */
  clusterUid?: string;
}

export interface DaemonSetStatus {
  observedGeneration?: number;
  desiredNumberScheduled?: number;
  numberReady?: number;
  updatedNumberScheduled?: number;
}

/**
 * Whose backups these are: the kube-system namespace UID names the cluster, and is kept in the directory as
 * `cluster-uid`. `kubeadm reset` leaves the directory behind; a new cluster must not take the old one's manifests
 * for its own originals. `adopt`: the cluster holds copies for this node already (a directory written by an older
 * kubectl-selfhost, before the marker), so a directory without a marker is this cluster's.
 */
export interface BackupOwner {
  clusterUid: string;
  adopt: boolean;
}
