// The steering steps of an apiserver hand-over (src/core/steering.ts says why and when each runs). "Old" is the
// instance that serves now, "new" the one that takes over: in pivot the static pod, then the DaemonSet pod; in
// rollback the other way round.
//  old:  1. two instances that started the other way round (a restart): not steered (the group's order, which the
//           program's indices follow, is then not known), any program detached;
//        2. the node helper sets tcp_migrate_req (keeping the old value on the node) and attaches the program that
//           gives other hosts' new connections to the old listener.
//  new:  1. pivot: wait until the DaemonSet pod is ready (a crash-looping one is named here, not on the node);
//        2. as old.1;
//        3. on the node, the agent waits until the new process listens beside the old one and answers /readyz at the
//           probe address (src/ports/agent.ts), then the program gives new connections to it; it never does: the
//           program is detached (the hash, as unsteered).
//  none: the program detached, the old tcp_migrate_req put back (also after a killed run, from rollback).
// A node that cannot be steered (the helper's or the agent's exit 3, 4 or 5) is not an error: the hand-over goes on
// as before, and the step says why.
import type { SteerTo } from '../core/steering.ts';
import type { HelperArch } from '../core/port-sharing.ts';
import type { Step } from '../core/runner.ts';
import { waitFor } from '../core/wait.ts';
import { nodeDirs } from '../ports/nodefs.ts';
import { tagOf, type OpContext } from './context.ts';
import { daemonPod, describePod, lastEvents, mirrorPod, readiness, startedAt } from './observe.ts';

type Ctx = Pick<OpContext, 'kube' | 'sockets' | 'wait'>;
export interface SteerStep { node: string; target: { staticPodPath: string }; port: number; to: SteerTo; arch: HelperArch; migrate: boolean; op: 'pivot' | 'rollback' }

/** Why the two instances may not have started old first, new second; null when they did (or one is not there). */
async function outOfOrder(ctx: Ctx, s: SteerStep): Promise<string | null> {
  const [hosted, mirror] = await Promise.all([daemonPod(ctx.kube, 'kube-apiserver', s.node), mirrorPod(ctx.kube, 'kube-apiserver', s.node)]);
  const [h, m] = [startedAt(hosted), startedAt(mirror)];
  if (h === undefined || m === undefined) return null;
  const [older, newer] = s.op === 'pivot' ? ['static apiserver', 'DaemonSet pod'] : ['DaemonSet pod', 'static apiserver'];
  if (s.op === 'pivot' ? m < h : h < m) return null;
  return `the ${newer} on ${s.node} did not start after the ${older} (a restart?), so the kernel's order of the two is not known`;
}

export async function steer(ctx: Ctx, s: SteerStep): Promise<string | void> {
  const dirs = nodeDirs(s.target.staticPodPath);
  const exe = 'kube-apiserver';
  if (s.to === 'new' && s.op === 'pivot') {
    await waitFor(ctx.wait, tagOf(s.op, 'kube-apiserver'), `the DaemonSet pod of kube-apiserver on ${s.node} to be ready`,
      async () => readiness(await daemonPod(ctx.kube, 'kube-apiserver', s.node)),
      async () => { const p = await daemonPod(ctx.kube, 'kube-apiserver', s.node); return p ? `${describePod(p)}; ${await lastEvents(ctx.kube, p.metadata.name)}` : `no DaemonSet pod on ${s.node}`; });
  }
  if (s.to !== 'none') {
    const why = await outOfOrder(ctx, s);
    if (why !== null) {
      await ctx.sockets.steer(s.node, dirs, s.arch, exe, s.port, 'none', s.migrate);
      return `not steered: ${why}; new connections are shared by the kernel's hash`;
    }
  }
  const r = await ctx.sockets.steer(s.node, dirs, s.arch, exe, s.port, s.to, s.migrate);
  if (!r.done) return s.to === 'none' ? `no program detached (${r.why}); tcp_migrate_req put back if it had been set` : `not steered (${r.why}); new connections are shared by the kernel's hash`;
  if (s.to === 'none') return r.wasAttached ? undefined : 'no steering program was attached';
}

/** The run of a steer step, for pivot's and rollback's step tables (done once: the program lives with the group). */
export function steerStepRuns(s: SteerStep): Pick<Step<Ctx>, 'run'> {
  return { run: (ctx) => steer(ctx, s) };
}
