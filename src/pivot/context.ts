// What pivot and rollback steps may use. Steps take a Pick<> of this, so their tests build small literals.
import type { Component } from '../core/components.ts';
import type { Emit } from '../core/events.ts';
import type { WaitCtx } from '../core/wait.ts';
import type { Clock } from '../ports/clock.ts';
import type { ApiProbe, KubeApi } from '../ports/kube.ts';
import type { NodeFiles, NodeSockets } from '../ports/nodefs.ts';

export type { DryRun } from '../core/runner.ts';

/** What pivot and rollback executors use. Dry run, the journal, the Lease and the fault hook are the runner's. */
export interface OpContext {
  kube: KubeApi;
  files: NodeFiles;
  sockets: NodeSockets;
  probe: ApiProbe;
  clock: Clock;
  emit: Emit;
  wait: WaitCtx;
  /** The image of node agents and of the checkpointer (--agent-image). */
  agentImage: string;
}

/** A node as the observers see it: where its apiserver answers. */
export interface NodeRef {
  name: string;
  address: string | undefined;
  /** The apiserver's secure port on it (the manifest's --secure-port). */
  port?: number;
}

export const tagOf = (op: 'pivot' | 'rollback', c: Component) => `[${op}/${c}]`;
export const mirrorPodName = (c: Component, node: string) => `${c}-${node}`;
