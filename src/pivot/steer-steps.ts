// The steering steps of an apiserver hand-over (src/core/steering.ts says why and when each runs):
//  old:  1. a DaemonSet pod that started on the node before the static pod did: not steered (the group's order,
//           which the program's indices follow, is then the other way round), any program detached;
//        2. the node helper sets tcp_migrate_req (keeping the old value on the node) and attaches the program that
//           gives other hosts' new connections to the old listener.
//  new:  1. wait until the DaemonSet pod is ready (its probes reach the new process alone, at the probe address);
//        2. as old.1; 3. the program to the new listener.
//  none: the program detached, the old tcp_migrate_req put back (also after a killed run, from rollback).
// A node that cannot be steered (the helper's exit 3, 4 or 5) is not an error: the hand-over goes on as before, and
// the step says why.
import type { SteerTo } from '../core/steering.ts';
import type { HelperArch } from '../core/port-sharing.ts';
import type { Step } from '../core/runner.ts';
import { waitFor } from '../core/wait.ts';
import { nodeDirs } from '../ports/nodefs.ts';
import { tagOf, type OpContext } from './context.ts';
import { daemonPod, describePod, lastEvents, mirrorPod, readiness, startedAt } from './observe.ts';

type Ctx = Pick<OpContext, 'kube' | 'sockets' | 'wait'>;
/** The helper's answer to --to new while the new process does not listen yet (steer.go). */
const ONE_LISTENER = /only one \S+ listener on port/;
export interface SteerStep { node: string; target: { staticPodPath: string }; port: number; to: SteerTo; arch: HelperArch; migrate: boolean; op: 'pivot' | 'rollback' }

/** Why the two listeners' order may not be static first, DaemonSet second; null when it is (or nothing runs yet). */
async function outOfOrder(ctx: Ctx, s: SteerStep): Promise<string | null> {
  const [hosted, mirror] = await Promise.all([daemonPod(ctx.kube, 'kube-apiserver', s.node), mirrorPod(ctx.kube, 'kube-apiserver', s.node)]);
  const [h, m] = [startedAt(hosted), startedAt(mirror)];
  if (h === undefined || m === undefined || m < h) return null;
  return `the static apiserver on ${s.node} started after its DaemonSet pod (a restart?), so the kernel's order of the two is not known`;
}

export async function steer(ctx: Ctx, s: SteerStep): Promise<string | void> {
  const dirs = nodeDirs(s.target.staticPodPath);
  const exe = 'kube-apiserver';
  if (s.to !== 'none') {
    if (s.to === 'new') await waitFor(ctx.wait, tagOf(s.op, 'kube-apiserver'), `the DaemonSet pod of kube-apiserver on ${s.node} to be ready (probed at its own process)`,
      async () => readiness(await daemonPod(ctx.kube, 'kube-apiserver', s.node)),
      async () => { const p = await daemonPod(ctx.kube, 'kube-apiserver', s.node); return p ? `${describePod(p)}; ${await lastEvents(ctx.kube, p.metadata.name)}` : `no DaemonSet pod on ${s.node}`; });
    const why = await outOfOrder(ctx, s);
    if (why !== null) {
      await ctx.sockets.steer(s.node, dirs, s.arch, exe, s.port, 'none', s.migrate);
      return `not steered: ${why}; new connections are shared by the kernel's hash`;
    }
  }
  let r = await ctx.sockets.steer(s.node, dirs, s.arch, exe, s.port, s.to, s.migrate);
  // Ready before its process listens (a probe answered by the old one, as the hash gives it while it is alone): waited for.
  if (s.to === 'new' && !r.done && ONE_LISTENER.test(r.why)) {
    await waitFor(ctx.wait, tagOf(s.op, 'kube-apiserver'), `the DaemonSet pod's apiserver on ${s.node} to listen beside the static one`, async () => {
      r = await ctx.sockets.steer(s.node, dirs, s.arch, exe, s.port, s.to, s.migrate);
      return { done: r.done || !ONE_LISTENER.test(r.why), seen: r.done ? 'steered' : r.why };
    });
  }
  if (!r.done) return s.to === 'none' ? `no program detached (${r.why}); tcp_migrate_req put back if it had been set` : `not steered (${r.why}); new connections are shared by the kernel's hash`;
  if (s.to === 'none') return r.wasAttached ? undefined : 'no steering program was attached';
}

/** The run of a steer step, for pivot's and rollback's step tables (done once: the program lives with the group). */
export function steerStepRuns(s: SteerStep): Pick<Step<Ctx>, 'run'> {
  return { run: (ctx) => steer(ctx, s) };
}
