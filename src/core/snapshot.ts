// What was read from the cluster or a manifests directory: the planner's only input besides options and time.
import type { Component } from './components.ts';
import type { DaemonSet, Pod } from './k8s-types.ts';
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
}

export interface NodeSnapshot {
  name: string;
  staticPodPath: string;
  /** null when unknown (offline). */
  ready: boolean | null;
  /** The node's InternalIP, where its apiserver listens (live only). */
  address?: string;
  staticPods: StaticPodSeen[];
  daemonPods: DaemonPodSeen[];
  /** Files of the static pod directory that hold no pod (offline only), left alone as the kubelet does. */
  skipped?: SkippedFile[];
  /** Reboot recovery on this node (live only): what the cluster record and the mirror pods show. */
  checkpoint?: CheckpointSeen;
}

export interface CheckpointSeen {
  /** The DaemonSet generation the node's checkpoint was written from (cluster record), if one was written. */
  recordedGeneration?: number;
  /** The checkpoint runs (its mirror pod exists): the node is recovering from a reboot. */
  active: boolean;
  /** The checkpointer static pod runs. */
  checkpointer: boolean;
}

export interface Snapshot {
  source: SnapshotSource;
  nodes: NodeSnapshot[];
  /** DaemonSets this tool manages that already exist. */
  daemonSets: Partial<Record<Component, DaemonSet & { status?: DaemonSetStatus }>>;
  journal: Journal | null;
}

export interface DaemonSetStatus {
  observedGeneration?: number;
  desiredNumberScheduled?: number;
  numberReady?: number;
  updatedNumberScheduled?: number;
}
