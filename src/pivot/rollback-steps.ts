// Rollback's steps: back to static pods from any state pivot can leave, with the same no-pause hand-over in the
// other direction (the restored static pod shares the port with the DaemonSet pod until the DaemonSet goes).
import type { Component } from '../core/components.ts';
import type { Pod } from '../core/k8s-types.ts';
import { MANAGED_BY_KEY, MANAGED_BY_VALUE, NAMESPACE } from '../core/labels.ts';
import type { Step } from '../core/runner.ts';
import { sharesPort, withPortSharing } from '../core/transform/mutators.ts';
import { waitFor } from '../core/wait.ts';
import { parseAll, toYaml } from '../core/yaml.ts';
import { paths } from '../ports/kube.ts';
import { nodeDirs } from '../ports/nodefs.ts';
import { tagOf, type NodeRef, type OpContext } from './context.ts';
import { daemonPod, describePod, lastEvents, mirrorPod, observeServes } from './observe.ts';
import { deleteClusterBackups, readClusterBackup, recordCheckpoint } from './store.ts';
import { ACTIVE_CHECKPOINT_FILE, CHECKPOINT_POD, CHECKPOINTER_FILE, CHECKPOINTER_POD } from '../core/checkpoint.ts';

export interface RollbackOptions {
  components: readonly Component[];
  /** Restore the byte-identical backup at the end (one more restart), instead of keeping --permit-port-sharing. */
  exact: boolean;
}

export interface RollbackStepInfo {
  id: string;
  component: Component | null;
  node: string | null;
  description: string;
}

/** The rollback plan: pure, like pivot's. Components in reverse pivot order: the apiserver first. */
export function rollbackPlan(nodes: readonly NodeRef[], o: RollbackOptions): RollbackStepInfo[] {
  const out: RollbackStepInfo[] = [];
  if (o.components.includes('kube-apiserver')) {
    for (const n of nodes) out.push({ id: `uncheckpoint/${n.name}`, component: 'kube-apiserver', node: n.name, description: `on ${n.name}: remove the checkpointer and any active apiserver checkpoint (reboot recovery)` });
  }
  for (const c of [...o.components].reverse()) {
    for (const n of nodes) out.push({ id: `restore/${c}/${n.name}`, component: c, node: n.name, description: `on ${n.name}: restore the static ${c} from its backup (unless it runs) and wait until it serves` });
    out.push({ id: `delete-daemonset/${c}`, component: c, node: null, description: `delete DaemonSet kube-system/${c} and wait until the static pods serve alone` });
    if (o.exact) for (const n of nodes) out.push({ id: `exact/${c}/${n.name}`, component: c, node: n.name, description: `on ${n.name}: put back the byte-identical original ${c} manifest (the kubelet restarts it)` });
  }
  out.push({ id: 'cleanup', component: null, node: null, description: 'remove the backups (node and cluster copies) now that the static pods run from them' });
  return out;
}

type Ctx = OpContext;

export function rollbackSteps(nodes: readonly NodeRef[], o: RollbackOptions): Step<Ctx>[] {
  return rollbackPlan(nodes, o).map((s) => {
    const base = { id: s.id, tag: s.component ? tagOf('rollback', s.component) : '[rollback]', description: s.description };
    const node = nodes.find((n) => n.name === s.node);
    if (s.id.startsWith('uncheckpoint/')) return { ...base, run: (ctx: Ctx) => removeCheckpoint(ctx, node!) };
    if (s.id.startsWith('restore/')) return { ...base, run: (ctx: Ctx) => restore(ctx, s.component!, node!, false) };
    if (s.id.startsWith('delete-daemonset/')) return { ...base, run: (ctx: Ctx) => deleteDaemonSet(ctx, s.component!, nodes) };
    if (s.id.startsWith('exact/')) return { ...base, run: (ctx: Ctx) => restore(ctx, s.component!, node!, true) };
    return { ...base, run: (ctx: Ctx) => cleanup(ctx, nodes) };
  });
}

/** The original manifest: the node copy, else the cluster copy. */
async function original(ctx: Ctx, c: Component, node: NodeRef): Promise<string | null> {
  return (await ctx.files.readBackup(node.name, nodeDirs(node.staticPodPath), `${c}.yaml`)) ?? (await readClusterBackup(ctx.kube, node.name, c));
}


export async function restore(ctx: Ctx, c: Component, node: NodeRef, exact: boolean): Promise<string | void> {
  if (ctx.dryRun !== 'none') return 'dry run: nothing restored';
  const dirs = nodeDirs(node.staticPodPath);
  const file = `${c}.yaml`;
  const current = await ctx.files.read(node.name, dirs, file);
  const backup = await original(ctx, c, node);
  let wrote = false;
  let want: (p: Pod | null) => boolean = sharesPort;
  if (exact) {
    if (backup === null) return 'no backup: the static manifest stays as it is';
    const pod = parseAll(backup)[0] as Pod;
    want = (p) => !!p && JSON.stringify(p.spec.containers[0]?.command) === JSON.stringify(pod.spec.containers[0]?.command);
    if (current !== backup) {
      await ctx.files.write(node.name, dirs, file, backup);
      wrote = true;
    }
  } else {
    if (current !== null && (await daemonPod(ctx.kube, c, node.name)) === null && !(await daemonSetExists(ctx, c))) {
      return 'static, never pivoted: nothing to restore';
    }
    const source = current ?? backup;
    if (source === null) {
      throw new Error(`no backup of ${file} for ${node.name}: both ${dirs.backup}/${file} and ConfigMap kube-system/kubectl-selfhost-backup-${node.name} are missing; regenerate it with "kubeadm init phase control-plane ${c.replace('kube-', '')}" on the node`);
    }
    const pod = parseAll(source)[0] as Pod;
    if (current === null || !sharesPort(pod)) {
      // The DaemonSet pod holds the port with SO_REUSEPORT; the restored static pod must share it to start at once.
      await ctx.files.write(node.name, dirs, file, toYaml(withPortSharing(pod)));
      wrote = true;
    }
  }
  const tag = tagOf('rollback', c);
  const mirror = () => mirrorPod(ctx.kube, c, node.name);
  await waitFor(ctx.wait, tag, `the static ${c} on ${node.name} to serve`, async () => {
    const m = await mirror();
    if (!want(m as Pod | null)) return { done: false, seen: m ? `${describePod(m)} (old manifest still running)` : 'no mirror pod yet' };
    return observeServes(c, ctx.probe, node, async () => m, exact);
  }, () => lastEvents(ctx.kube, `${c}-${node.name}`));
  return wrote ? undefined : 'the static pod was running already';
}

export async function deleteDaemonSet(ctx: Ctx, c: Component, nodes: readonly NodeRef[]): Promise<string | void> {
  if (ctx.dryRun === 'client') return 'dry run (client): nothing sent';
  const gone = await ctx.kube.delete(paths.daemonSet(NAMESPACE, c), { dryRun: ctx.dryRun === 'server', propagationPolicy: 'Background' });
  if (ctx.dryRun === 'server') return 'dry run (server): delete accepted';
  const tag = tagOf('rollback', c);
  for (const n of nodes) {
    await waitFor(ctx.wait, tag, `the DaemonSet pod of ${c} on ${n.name} to go`, async () => {
      const p = await daemonPod(ctx.kube, c, n.name);
      return { done: p === null, seen: p ? describePod(p) : 'gone' };
    });
    const mirror = () => mirrorPod(ctx.kube, c, n.name);
    await waitFor(ctx.wait, tag, `the static ${c} on ${n.name} to serve alone`, () => observeServes(c, ctx.probe, n, mirror, true));
  }
  return gone ? undefined : 'the DaemonSet was gone already';
}

/** Reboot recovery off: the checkpointer goes first, so that it cannot activate a checkpoint during the rollback. */
export async function removeCheckpoint(ctx: Ctx, node: NodeRef): Promise<string | void> {
  if (ctx.dryRun !== 'none') return 'dry run: checkpointer left';
  const dirs = nodeDirs(node.staticPodPath);
  await ctx.files.removeOwned(node.name, dirs, CHECKPOINTER_FILE);
  await ctx.files.removeOwned(node.name, dirs, ACTIVE_CHECKPOINT_FILE);
  await recordCheckpoint(ctx.kube, ctx.wait, node.name, null);
  await waitFor(ctx.wait, tagOf('rollback', 'kube-apiserver'), `the checkpointer on ${node.name} to stop`, async () => {
    const left = await Promise.all([CHECKPOINTER_POD, CHECKPOINT_POD].map((p) => ctx.kube.get(paths.pod(NAMESPACE, `${p}-${node.name}`))));
    return { done: left.every((p) => p === null), seen: left.some((p) => p !== null) ? 'mirror pod still there' : 'gone' };
  });
}

async function daemonSetExists(ctx: Ctx, c: Component): Promise<boolean> {
  return (await ctx.kube.get(paths.daemonSet(NAMESPACE, c))) !== null;
}

async function cleanup(ctx: Ctx, nodes: readonly NodeRef[]): Promise<string | void> {
  if (ctx.dryRun !== 'none') return 'dry run: backups kept';
  const left = await ctx.kube.list(paths.daemonSets(NAMESPACE), { labelSelector: `${MANAGED_BY_KEY}=${MANAGED_BY_VALUE}` });
  if (left.length > 0) return `backups kept: ${left.map((d) => d.metadata.name).join(', ')} still self-hosted`;
  for (const n of nodes) {
    await ctx.files.removeBackups(n.name, nodeDirs(n.staticPodPath));
    await deleteClusterBackups(ctx.kube, n.name, false);
  }
}
