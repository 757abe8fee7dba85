// e2e helpers: run the built kubectl-selfhost and kubectl against the real test bed (KUBECONFIG set by
// scripts/e2e.sh), read the node's static pod directory, and wait with bounded polls.
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';

export const REPO = join(import.meta.dirname, '..', '..');
export const BIN = join(REPO, 'bin', 'kubectl-selfhost');
export const KUBECONFIG = process.env['KUBECONFIG'] ?? '';
export const MANIFESTS = '/etc/kubernetes/manifests';
export const BACKUPS = '/etc/kubernetes/selfhost-backup';

const env = (extra: Record<string, string> = {}) => ({ ...process.env, KUBECONFIG, NO_COLOR: '1', ...extra });

export function selfhost(args: string[], timeoutMs = 900_000, extraEnv: Record<string, string> = {}): { code: number; out: string; err: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(BIN, args, { env: env(extraEnv), encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  noteRetries(args, r.stdout);
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr, ms: Date.now() - t0 };
}

/** Prints (never asserts) the requests a run sent again during a hand-over, so the log shows how often it happens. */
function noteRetries(args: string[], out: string): void {
  const retries = out.split('\n').filter((l) => l.includes('sending it again'));
  if (retries.length) console.log(`# kubectl selfhost ${args[0]}: ${retries.length} request(s) sent again\n${retries.slice(0, 5).map((l) => `#   ${l}`).join('\n')}`);
}

export interface Run { code: number; out: string; err: string; ms: number }

/** A child's output and exit, collected without blocking the event loop; SIGKILLed after timeoutMs. */
export function collect(child: ChildProcess, timeoutMs: number, onEnd: (out: string) => void = () => undefined): Promise<Run> {
  const t0 = Date.now();
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => child.on('close', (code) => {
    clearTimeout(timer);
    onEnd(out);
    resolve({ code: code ?? -1, out, err, ms: Date.now() - t0 });
  }));
}

/** Like selfhost(), without blocking the event loop (the prober runs in this process meanwhile). */
export function selfhostAsync(args: string[], timeoutMs = 900_000, extraEnv: Record<string, string> = {}): Promise<Run> {
  return collect(spawn(BIN, args, { env: env(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] }), timeoutMs, (out) => noteRetries(args, out));
}

/** A run of the plugin in the background: its output so far (stdout and stderr together), and its exit. */
export interface BackgroundRun { child: ChildProcess; out: () => string; exited: Promise<number | null> }

export function selfhostBackground(args: string[]): BackgroundRun {
  const child = spawn(BIN, args, { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, out: () => out, exited };
}

/** Waits until the run's output matches `mark`; a run that ends first fails the test at once, with its last output. */
export async function untilOutput(run: BackgroundRun, what: string, limitMs: number, mark: RegExp): Promise<void> {
  await until(what, limitMs, () => {
    if (run.child.exitCode !== null) throw new Fatal(`the run ended (exit ${run.child.exitCode}) before ${what}:\n${run.out().slice(-2000)}`);
    return mark.test(run.out());
  });
}

export function kubectl(args: string[]): string {
  return execFileSync('kubectl', args, { env: env(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function kubectlJson<T>(args: string[]): T {
  return JSON.parse(kubectl([...args, '-o', 'json'])) as T;
}

export function tryKubectl(args: string[]): string | null {
  try {
    return kubectl(args);
  } catch {
    return null;
  }
}

/** What is left in the tool's node directory. Rollback empties it but leaves the directory (removing it would need
 * /etc/kubernetes mounted writable), so "nothing left" is an empty list, not a missing directory. */
export function backupsLeft(): string[] {
  return existsSync(BACKUPS) ? readdirSync(BACKUPS).sort() : [];
}

export function staticManifests(): string[] {
  return existsSync(MANIFESTS) ? readdirSync(MANIFESTS).filter((f) => !f.startsWith('.')).sort() : [];
}

/** kubectl without blocking the event loop: null when it fails. */
export function kubectlAsync(args: string[]): Promise<string | null> {
  return new Promise((resolve) => execFile('kubectl', args, { env: env(), encoding: 'utf8' }, (err, stdout) => resolve(err ? null : stdout)));
}

/** Thrown from an until() probe to stop waiting at once. */
export class Fatal extends Error {}

export async function until<T>(what: string, limitMs: number, probe: () => T | null | undefined | false | Promise<T | null | undefined | false>): Promise<T> {
  const t0 = Date.now();
  let last: unknown = null;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
      last = v;
    } catch (err) {
      if (err instanceof Fatal) throw err;
      last = (err as Error).message.split('\n')[0];
    }
    if (Date.now() - t0 > limitMs) throw new Error(`gave up after ${limitMs / 1000}s waiting for ${what}; last seen: ${String(last)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export interface StatusDoc {
  summary: string;
  nodes: Array<{ name: string; components: Array<{ component: string; mode: string; ready: boolean | null; backup: boolean }> }>;
  daemonSets: unknown[];
  journal: { operation: string; state: string; done: string[] } | null;
  problems: string[];
}

export function status(): { code: number; doc: StatusDoc } {
  const r = selfhost(['status', '-o', 'json']);
  if (r.code > 1) throw new Error(`status failed (${r.code}): ${r.err}`);
  return { code: r.code, doc: JSON.parse(r.out) as StatusDoc };
}

export function modes(doc: StatusDoc): Record<string, string> {
  return Object.fromEntries(doc.nodes.flatMap((n) => n.components.map((c) => [c.component, c.mode])));
}

export function agentPods(): string[] {
  return kubectl(['-n', 'kube-system', 'get', 'pods', '-l', 'app.kubernetes.io/component=node-agent', '-o', 'name']).split('\n').filter(Boolean);
}

/** The endpoint guard (src/core/endpoint-guard.ts): in place only while apiservers are handed over. */
export function endpointGuards(): string[] {
  return kubectl(['get', 'validatingadmissionpolicies,validatingadmissionpolicybindings', '-l', 'app.kubernetes.io/managed-by=kubectl-selfhost', '-o', 'name']).split('\n').filter(Boolean);
}

/** The node helper's ConfigMaps (created for one call of the helper, deleted after it, or by the next run). */
export function helperConfigMaps(): string[] {
  return kubectl(['-n', 'kube-system', 'get', 'configmaps', '-l', 'app.kubernetes.io/component=node-helper', '-o', 'name']).split('\n').filter(Boolean);
}

export function ourDaemonSets(): string[] {
  return kubectl(['-n', 'kube-system', 'get', 'daemonsets', '-l', 'app.kubernetes.io/managed-by=kubectl-selfhost', '-o', 'name']).split('\n').filter(Boolean);
}

/** scripts/e2e.sh tears the bed down after this file: a clean-up that only readies the bed for a next file is skipped. */
export const BED_DISCARDED_NEXT = process.env.E2E_BED_DISCARDED === '1';

/**
 * After a suite: if a failed test left any of the tool's DaemonSets or node files behind, roll back so that the
 * next suite starts from the static control plane kubeadm made. The failed test still fails; this only stops one
 * failure from turning every later test red.
 */
export function restoreStaticControlPlane(suite: string): void {
  if (BED_DISCARDED_NEXT) return void console.log(`# ${suite}: the bed is torn down next; no clean-up rollback`);
  const left = [...ourDaemonSets(), ...staticManifests().filter((f) => f.startsWith('kubectl-selfhost-')), ...backupsLeft().map((f) => `${BACKUPS}/${f}`)];
  if (left.length === 0) return;
  console.log(`# ${suite} left ${left.join(', ')} behind; rolling back before the next suite`);
  const r = selfhost(['rollback', '--yes']);
  console.log(`# rollback after ${suite}: exit ${r.code}\n${(r.out + r.err).trim().split('\n').slice(-5).map((l) => `#   ${l}`).join('\n')}`);
}

const BED = join(REPO, 'scripts', 'testbed', 'testbed.sh');
const HELPER_ON_NODE = '/var/tmp/kubectl-selfhost-e2e/node-helper';

/** A command on a node of the bed: the single node (no name), or a node of an HA bed (in its own namespaces). */
const onNode = (node: string | undefined, cmd: string[]) => spawnSync('bash', [BED, 'exec', ...(node ? [node, '--'] : []), ...cmd], { encoding: 'utf8' });

/** This build's node helper, put where the node sees it (an HA node has a file system of its own). */
function helperOn(node: string | undefined): string {
  const arch = process.arch === 'arm64' ? 'arm64' : 'amd64';
  const host = execFileSync('bash', [BED, 'path', node ?? '-', HELPER_ON_NODE], { encoding: 'utf8' }).trim();
  mkdirSync(dirname(host), { recursive: true, mode: 0o700 });
  writeFileSync(host, gunzipSync(readFileSync(join(REPO, 'dist', 'node-helper', `node-helper-linux-${arch}.gz`))), { mode: 0o700 });
  return HELPER_ON_NODE;
}

/** A node's net.ipv4.tcp_migrate_req (the value in its network namespace). */
export function migrateReq(node?: string): string {
  const r = onNode(node, ['cat', '/proc/sys/net/ipv4/tcp_migrate_req']);
  if (r.status !== 0) throw new Error(`cannot read net.ipv4.tcp_migrate_req on ${node ?? 'the node'}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/**
 * What a run left on a node of steering (src/core/steering.ts): net.ipv4.tcp_migrate_req not as it was before the
 * suite, a program on the apiserver's port (the helper's detach tells, and detaches it).
 */
export function steeringLeft(migrateBefore: string, node?: string): string[] {
  const left: string[] = [];
  const now = migrateReq(node);
  if (now !== migrateBefore) left.push(`net.ipv4.tcp_migrate_req=${now} (it was ${migrateBefore})`);
  const r = onNode(node, [helperOn(node), 'steer', '--port', '6443', '--exe', 'kube-apiserver', '--to', 'none']);
  if (r.status === 0 && (JSON.parse(r.stdout) as { wasAttached: boolean }).wasAttached) left.push('a steering program on port 6443');
  else if (r.status !== 0 && r.status !== 3) left.push(`cannot tell whether a steering program is left: ${r.stderr.trim()}`);
  return left;
}
