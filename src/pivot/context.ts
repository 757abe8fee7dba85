// What pivot and rollback steps may use. Steps take a Pick<> of this, so their tests build small literals.
import type { Component } from '../core/components.ts';
import type { Emit } from '../core/events.ts';
import type { WaitCtx } from '../core/wait.ts';
import type { Clock } from '../ports/clock.ts';
import type { ApiProbe, KubeApi } from '../ports/kube.ts';
import type { NodeFiles } from '../ports/nodefs.ts';

export type DryRun = 'none' | 'client' | 'server';

export interface OpContext {
  kube: KubeApi;
  files: NodeFiles;
  probe: ApiProbe;
  clock: Clock;
  emit: Emit;
  wait: WaitCtx;
  dryRun: DryRun;
}

/** One node as the steps see it. */
export interface NodeRef {
  name: string;
  staticPodPath: string;
  address: string | undefined;
}

export const tagOf = (op: 'pivot' | 'rollback', c: Component) => `[${op}/${c}]`;
export const mirrorPodName = (c: Component, node: string) => `${c}-${node}`;
