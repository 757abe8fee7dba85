// The bed's node as the fault suite sees it, without going through the API: which control-plane ports have a
// listener (sampled in the node's network namespace), what is in the static pod and backup directories, the
// operator's partition (DROP on the host-side veth only), and a second operator that runs inside the node's
// network namespace, so it still reaches the API while the first is cut off.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BACKUPS, BIN, collect, KUBECONFIG, kubectl, MANIFESTS, REPO, tryKubectl, type Run } from '../helpers.ts';

export type { Run };

export const BED = join(REPO, 'scripts', 'testbed', 'testbed.sh');
export const NODE = 'selfhost-cp';
const NETNS = '/run/netns/selfhost-bed';
/** The host end of the bed's veth (scripts/testbed/testbed.sh HOST_IF): the only interface a partition touches. */
const HOST_IF = 'selfhost-bed0';
const CHAIN = 'SELFHOST-FAULT-PARTITION';

export const COMPONENT_PORTS = { 'kube-apiserver': 6443, 'kube-controller-manager': 10257, 'kube-scheduler': 10259, etcd: 2379 } as const;
export type Component = keyof typeof COMPONENT_PORTS;
export const CONTROL_PLANE: readonly Component[] = ['kube-scheduler', 'kube-controller-manager', 'kube-apiserver'];

/** Local ports with a TCP listener in the node's network namespace (`ss -ltnH`, fourth column). */
export function parseListeners(ssOutput: string): Set<number> {
  const ports = new Set<number>();
  for (const line of ssOutput.split('\n')) {
    const local = line.trim().split(/\s+/)[3];
    const port = local ? Number(local.slice(local.lastIndexOf(':') + 1)) : NaN;
    if (Number.isInteger(port)) ports.add(port);
  }
  return ports;
}

function listenersAsync(): Promise<Set<number> | null> {
  return new Promise((resolve) => execFile('nsenter', [`--net=${NETNS}`, '--', 'ss', '-ltnH'], { encoding: 'utf8' }, (err, out) => resolve(err ? null : parseListeners(out))));
}

/**
 * Samples the node's listeners every 250 ms while a fault case runs and keeps, per component, the longest stretch
 * with no process listening on its port: "at least one serving instance" as the kernel sees it (the apiserver's
 * answers are the prober's). A sample that cannot be taken (the node's namespace is being re-made by a reboot)
 * counts as no listener.
 */
export function startListenerSampler(): { stop(): Promise<Record<Component, number>> } {
  const since: Partial<Record<Component, number>> = {};
  const longest = Object.fromEntries(Object.keys(COMPONENT_PORTS).map((c) => [c, 0])) as Record<Component, number>;
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    const ports = await listenersAsync();
    const now = Date.now();
    for (const [c, port] of Object.entries(COMPONENT_PORTS) as Array<[Component, number]>) {
      if (ports?.has(port)) {
        if (since[c] !== undefined) longest[c] = Math.max(longest[c], now - since[c]!);
        delete since[c];
      } else since[c] ??= now;
    }
    busy = false;
  };
  const timer = setInterval(() => void tick(), 250);
  return {
    async stop() {
      clearInterval(timer);
      const now = Date.now();
      for (const c of Object.keys(since) as Component[]) longest[c] = Math.max(longest[c], now - since[c]!);
      return longest;
    },
  };
}

const dir = (d: string) => (existsSync(d) ? readdirSync(d).sort() : []);

/** Files a killed write could leave: dotfiles and `.tmp` in the static pod and backup directories. */
export function halfWritten(): string[] {
  return [MANIFESTS, BACKUPS].flatMap((d) => dir(d).filter((f) => f.startsWith('.') || f.endsWith('.tmp')).map((f) => `${d}/${f}`));
}

export const staticFile = (c: Component): string | null => (existsSync(join(MANIFESTS, `${c}.yaml`)) ? readFileSync(join(MANIFESTS, `${c}.yaml`), 'utf8') : null);
export const nodeCopy = (c: Component): string | null => (existsSync(join(BACKUPS, `${c}.yaml`)) ? readFileSync(join(BACKUPS, `${c}.yaml`), 'utf8') : null);
/**
 * The cluster copy of a component's original, or null when the ConfigMap or its key does not exist. An API that
 * answers anything else (a 403 from an apiserver that has just started beside a ready one, after a reboot) is
 * asked again for up to 30 s: an unanswered read is no proof that the copy is gone.
 */
export const clusterCopy = (c: Component): string | null => {
  for (let attempt = 0; ; attempt++) {
    try {
      const v = kubectl(['-n', 'kube-system', 'get', 'configmap', `kubectl-selfhost-backup-${NODE}`, '-o', `jsonpath={.data.${c.replaceAll('-', '\\-')}\\.yaml}`]);
      return v === '' ? null : v;
    } catch (err) {
      const said = `${String((err as { stderr?: unknown }).stderr ?? '')} ${(err as Error).message}`;
      if (/NotFound|not found/.test(said)) return null;
      if (attempt >= 30) throw new Error(`cannot read the cluster copy of ${c}: ${said.trim().split('\n')[0]}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    }
  }
};

function iptables(args: string[]): boolean {
  try {
    execFileSync('iptables', ['-w', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    return true;
  } catch {
    return false;
  }
}

/** Cuts the operator (this host) off the bed: every packet through the host end of the bed's veth is dropped. */
export function partitionOn(): void {
  partitionOff();
  iptables(['-N', CHAIN]);
  iptables(['-A', CHAIN, '-j', 'DROP']);
  if (!iptables(['-I', 'OUTPUT', '-o', HOST_IF, '-j', CHAIN]) || !iptables(['-I', 'INPUT', '-i', HOST_IF, '-j', CHAIN])) {
    partitionOff();
    throw new Error(`could not install the partition on ${HOST_IF}`);
  }
}

/** Heals the partition; safe to call when there is none (the suite calls it before and after every case). */
export function partitionOff(): void {
  while (iptables(['-D', 'OUTPUT', '-o', HOST_IF, '-j', CHAIN]));
  while (iptables(['-D', 'INPUT', '-i', HOST_IF, '-j', CHAIN]));
  iptables(['-F', CHAIN]);
  iptables(['-X', CHAIN]);
}

/**
 * kubectl-selfhost run as a second operator from inside the node's network namespace (the API at the node's own
 * address is local there), with another hostname so that it is another machine to the Lease.
 */
export function fromNode(args: string[], timeoutMs = 900_000): Promise<Run> {
  return collect(spawn('nsenter', [`--net=${NETNS}`, '--', 'unshare', '--uts', '--', 'sh', '-c', 'hostname operator-2 && exec "$@"', 'sh', BIN, ...args], {
    env: { ...process.env, KUBECONFIG, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
  }), timeoutMs);
}

/** A process's state letter from /proc (T: stopped, as the fault hook's `:stop` leaves it), or 'gone'. */
export function processState(pid: number | undefined): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0]!;
  } catch {
    return 'gone';
  }
}

/** The API's Lease of the tool, as the server holds it (null: none). */
export function lease(): { holder: string; renewTime: string } | null {
  const raw = tryKubectl(['-n', 'kube-system', 'get', 'lease', 'kubectl-selfhost', '-o', 'jsonpath={.spec.holderIdentity} {.spec.renewTime}']);
  if (raw === null) return null;
  const [holder = '', renewTime = ''] = raw.split(' ');
  return { holder, renewTime };
}

/**
 * Every apiserver container the node has logged (static, DaemonSet, checkpoint), one line each: its first and last
 * log time and its last line. For a failure's message: when each process ran tells which one left a gap.
 */
export function apiserverLives(): string {
  const root = '/var/log/pods';
  if (!existsSync(root)) return 'no pod logs';
  const lives: string[] = [];
  for (const dir of readdirSync(root).filter((d) => d.startsWith('kube-system_kube-apiserver-') || d.startsWith('kube-system_kubectl-selfhost-checkpoint-kube-apiserver'))) {
    const container = join(root, dir, 'kube-apiserver');
    if (!existsSync(container)) continue;
    for (const f of readdirSync(container).filter((x) => x.endsWith('.log'))) {
      const lines = readFileSync(join(container, f), 'utf8').split('\n').filter(Boolean);
      if (lines.length === 0) continue;
      const time = (l: string) => l.split(' ')[0]!.slice(11, 23);
      lives.push(`${dir.split('_')[1]}/${f}: ${time(lines[0]!)}..${time(lines.at(-1)!)} last: ${lines.at(-1)!.split(' ').slice(3).join(' ').slice(0, 160)}`);
    }
  }
  return lives.sort((a, b) => a.split(': ')[1]!.localeCompare(b.split(': ')[1]!)).join(' ⏎ ') || 'no apiserver logs';
}
