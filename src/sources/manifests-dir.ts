// Offline source: a kubeadm /etc/kubernetes/manifests directory read from local disk. Needs no cluster.
// It reads the directory as the kubelet does (pkg/kubelet/config/file.go): dotfiles skipped, subdirectories
// not entered, anything but a regular file (FIFO, socket, device, dangling link) skipped, every other file one
// pod; a file that is not a pod is logged and skipped by the kubelet, and noted and left alone here.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../core/errors.ts';
import type { Pod } from '../core/k8s-types.ts';
import { ambiguityProblem, claimedByName } from '../core/manifest-set.ts';
import { podProblem } from '../core/pod-checks.ts';
import type { SkippedFile, Snapshot, StaticPodSeen } from '../core/snapshot.ts';
import { describeSystemError } from '../core/system-errors.ts';
import { recognise } from '../core/static-pod.ts';
import { parseAll } from '../core/yaml.ts';

/** The name the offline snapshot gives its one node. */
export const OFFLINE_NODE = 'local';

export function readManifestsDir(dir: string): Snapshot {
  const path = resolve(dir);
  let entries: string[];
  const refuse = (why: string) => new ConfigError(`cannot read --manifests-dir ${dir}: ${why}; pass a kubeadm static pod directory such as /etc/kubernetes/manifests`);
  try {
    if (!statSync(path).isDirectory()) throw refuse('not a directory');
    entries = readdirSync(path).filter((f) => !f.startsWith('.')).sort();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw refuse((err as { code?: string }).code === 'ENOENT' ? 'no such directory' : describeSystemError(err));
  }
  const staticPods: StaticPodSeen[] = [];
  const skipped: SkippedFile[] = [];
  for (const file of entries) {
    const seen = readEntry(path, file, join(dir, file));
    if ('reason' in seen) skipped.push(seen);
    else staticPods.push(seen);
  }
  const ambiguity = ambiguityProblem(staticPods);
  if (ambiguity !== undefined) throw new ConfigError(`${dir}: ${ambiguity}`);
  if (!staticPods.some((s) => s.recognition.kind === 'component')) {
    throw new ConfigError(`no kubeadm control-plane manifest in ${dir} (expected kube-apiserver.yaml, kube-controller-manager.yaml, kube-scheduler.yaml from kubeadm)`);
  }
  return {
    source: { kind: 'manifests-dir', path },
    nodes: [{ name: OFFLINE_NODE, staticPodPath: path, ready: null, staticPods, daemonPods: [], skipped }],
    daemonSets: {},
    journal: null,
  };
}

function readEntry(dir: string, file: string, where: string): StaticPodSeen | SkippedFile {
  let kind: 'file' | 'dir' | 'other';
  try {
    const st = statSync(join(dir, file));
    kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
  } catch {
    return { file, reason: 'cannot be read (a dangling link?); the kubelet skips it' };
  }
  if (kind === 'dir') return { file, reason: 'a directory; the kubelet does not look into subdirectories' };
  if (kind === 'other') return { file, reason: 'not a regular file (FIFO, socket or device); the kubelet skips it' };
  const text = readFileSync(join(dir, file), 'utf8');
  try {
    return parseStaticPod(text, file, where);
  } catch (err) {
    // A control-plane component's own file must be a pod; any other file that is not one is the kubelet's to skip.
    if (claimedByName(file) !== undefined || !(err instanceof NotAPod)) throw err;
    return { file, reason: `${err.reason}; the kubelet skips it` };
  }
}

export function readStaticPod(dir: string, file: string): StaticPodSeen {
  const full = join(dir, file);
  const text = readFileSync(full, 'utf8');
  return parseStaticPod(text, file, full);
}

/** A file that holds no single Pod: an error for a component's own file, a note for any other. */
class NotAPod extends ConfigError {
  readonly reason: string;
  constructor(where: string, reason: string, advice: string) {
    super(`${where}: ${reason}; ${advice}`);
    this.reason = reason;
  }
}

/**
 * Parses one static pod manifest (shared by the offline source and the node agent's file reads). A control-plane
 * component's pod that the API would reject (no containers, an unnamed volume, a mount naming no volume...) is
 * refused here, so that it is never planned into an invalid DaemonSet.
 */
export function parseStaticPod(text: string, file: string, where: string): StaticPodSeen {
  let docs: unknown[];
  try {
    docs = parseAll(text);
  } catch (err) {
    const reason = (err as Error).message.split('\n')[0];
    throw new NotAPod(where, `invalid YAML (${reason})`, 'fix the file or move it out of the directory');
  }
  const pod = docs[0] as Pod | undefined;
  if (docs.length !== 1 || pod?.kind !== 'Pod' || typeof pod.spec !== 'object' || pod.spec === null || !Array.isArray(pod.spec.containers)) {
    throw new NotAPod(where, 'not a single Pod manifest', 'a static pod directory holds one Pod per file (move the file out of the directory)');
  }
  pod.metadata ??= {};
  const recognition = recognise(pod);
  if (recognition.kind === 'component') {
    const problem = podProblem(pod);
    if (problem !== undefined) throw new ConfigError(`${where}: ${problem}; fix the manifest (the API would reject it as a DaemonSet)`);
  }
  return { file, pod, sha256: createHash('sha256').update(text).digest('hex'), recognition };
}
