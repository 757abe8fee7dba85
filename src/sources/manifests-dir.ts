// Offline source: a kubeadm /etc/kubernetes/manifests directory read from local disk. Needs no cluster.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../core/errors.ts';
import type { Pod } from '../core/k8s-types.ts';
import type { Snapshot, StaticPodSeen } from '../core/snapshot.ts';
import { recognise } from '../core/static-pod.ts';
import { parseAll } from '../core/yaml.ts';

/** The name the offline snapshot gives its one node. */
export const OFFLINE_NODE = 'local';

export function readManifestsDir(dir: string): Snapshot {
  const path = resolve(dir);
  let entries: string[];
  try {
    if (!statSync(path).isDirectory()) throw new Error('not a directory');
    entries = readdirSync(path).sort();
  } catch (err) {
    throw new ConfigError(`cannot read --manifests-dir ${dir}: ${(err as Error).message.replace(/^[A-Z]+: /, '')} (pass a kubeadm static pod directory such as /etc/kubernetes/manifests)`);
  }
  // The kubelet reads every file except dotfiles; so do we.
  const staticPods = entries.filter((f) => !f.startsWith('.')).map((f) => readStaticPod(path, f));
  if (!staticPods.some((s) => s.recognition.kind === 'component')) {
    throw new ConfigError(`no kubeadm control-plane manifest in ${dir} (expected kube-apiserver.yaml, kube-controller-manager.yaml, kube-scheduler.yaml from kubeadm)`);
  }
  const foreign = staticPods.find((s) => s.recognition.kind === 'foreign');
  if (foreign && foreign.recognition.kind === 'foreign') {
    throw new ConfigError(`${join(dir, foreign.file!)}: ${foreign.recognition.reason}; move it out of the directory to plan the kubeadm components`);
  }
  return {
    source: { kind: 'manifests-dir', path },
    nodes: [{ name: OFFLINE_NODE, staticPodPath: path, ready: null, staticPods, daemonPods: [] }],
    daemonSets: {},
    journal: null,
  };
}

export function readStaticPod(dir: string, file: string): StaticPodSeen {
  const full = join(dir, file);
  const text = readFileSync(full, 'utf8');
  return parseStaticPod(text, file, full);
}

/** Parses one static pod manifest (shared by the offline source and the node agent's file reads). */
export function parseStaticPod(text: string, file: string, where: string): StaticPodSeen {
  let docs: unknown[];
  try {
    docs = parseAll(text);
  } catch (err) {
    const reason = (err as Error).message.split('\n')[0];
    throw new ConfigError(`${where}: invalid YAML (${reason}); fix the file or move it out of the directory`);
  }
  const pod = docs[0] as Pod | undefined;
  if (docs.length !== 1 || pod?.kind !== 'Pod' || !Array.isArray(pod.spec?.containers)) {
    throw new ConfigError(`${where}: not a single Pod manifest; a static pod directory holds one Pod per file (move the file out of the directory)`);
  }
  return { file, pod, sha256: createHash('sha256').update(text).digest('hex'), recognition: recognise(pod) };
}
