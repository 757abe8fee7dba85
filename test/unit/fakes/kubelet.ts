// A fake kubelet and DaemonSet controller for executor tests. It reacts, synchronously and in a fixed order, to
// what a run persists through the fake ports, per node:
//  - the static pod directory (the fake NodeFiles' manifests): each manifest runs and shows as its mirror pod
//    `<pod name>-<node>`, replaced (a new process) when the file changes and deleted with the file; so the
//    checkpointer's file gives `kubectl-selfhost-checkpointer-<node>`;
//  - DaemonSets (the fake KubeApi): metadata.generation and status kept as the API server and the controller
//    keep them, and a pod `<name>-g<generation>-<node>` on every node whose Node object's labels match the
//    template's nodeSelector, labelled pod-template-generation, replaced when the template changes (the old pod
//    goes once the new one is ready), deleted with the DaemonSet or once its node no longer matches (a node
//    label changed: every DaemonSet is reconciled again);
//  - node-agent pods: run to their end on the fake NodeFiles (fakes/agent-pods.ts).
// Every pod that runs has a process whose start time is later than any before, by a minute, so the apiserver's
// own-process proof can tell old from new; fakes/probe.ts reports the apiserver processes that listen on a node.
// What goes wrong is chosen by pod name: `broken` (never ready, no process), `deaf` (ready, its process never
// listens), `lingers` (its process outlives its pod).
import { MIRROR_ANNOTATION, NAMESPACE } from '../../../src/core/labels.ts';
import type { DaemonSet, Pod } from '../../../src/core/k8s-types.ts';
import { parseAll } from '../../../src/core/yaml.ts';
import type { Clock } from '../../../src/ports/clock.ts';
import { paths, type Obj } from '../../../src/ports/kube.ts';
import { isAgentPod, runAgentPod, type AgentFault, type Op } from './agent-pods.ts';
import type { FakeKube } from './kube.ts';
import type { FakeFiles } from './nodefs.ts';

export interface FakeNode {
  name: string;
  address: string;
}

export interface Proc {
  node: string;
  pod: string;
  /** process_start_time_seconds, and the container's startedAt. */
  startedAt: number;
  apiserver: boolean;
  listening: boolean;
}

export interface FakeKubelet {
  nodes: FakeNode[];
  procs: Proc[];
  broken: (pod: string) => boolean;
  deaf: (pod: string) => boolean;
  lingers: (pod: string) => boolean;
  /** What goes wrong with a node-agent pod doing `op` on `node` (null: nothing). */
  agentFault: (op: Op | undefined, node: string) => AgentFault | null;
  /** Re-reads a node's static pod directory (after a test changed files.manifests itself). */
  sync(node: string): void;
}

export const STATIC_POD_PATH = '/etc/kubernetes/manifests';
const DS_PREFIX = `${paths.daemonSets(NAMESPACE)}/`;
const PODS_PREFIX = `${paths.pods(NAMESPACE)}/`;

export function fakeKubelet(kube: FakeKube, files: FakeFiles, clock: Clock, nodes: FakeNode[]): FakeKubelet {
  let last = 0;
  const running = new Map<string, { node: string; text: string }>(); // static pods by mirror pod name
  const daemonSets = new Map<string, { generation: number; template: string }>();

  const k: FakeKubelet = {
    nodes, procs: [], broken: () => false, deaf: () => false, lingers: () => false, agentFault: () => null,
    sync(node) {
      const want = new Map<string, string>();
      for (const [key, text] of files.manifests) {
        const file = key.slice(node.length + 1);
        if (!key.startsWith(`${node}/`) || file.startsWith('.')) continue; // the kubelet ignores dotfiles
        want.set(`${(parseAll(text)[0] as Pod).metadata.name}-${node}`, text);
      }
      for (const [name, s] of [...running]) {
        if (s.node === node && want.get(name) !== s.text) {
          stop(name);
          running.delete(name);
        }
      }
      for (const [name, text] of want) {
        if (running.has(name)) continue;
        const pod = parseAll(text)[0] as Pod;
        running.set(name, { node, text });
        const annotations = { ...pod.metadata.annotations, [MIRROR_ANNOTATION]: `hash-${name}` };
        start(node, { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NAMESPACE, labels: pod.metadata.labels ?? {}, annotations }, spec: { ...pod.spec, nodeName: node } });
      }
    },
  };

  function start(node: string, pod: Obj & { spec: Pod['spec'] }): void {
    const name = pod.metadata.name!;
    if (k.broken(name)) {
      pod['status'] = { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{ ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } } }] };
    } else {
      last = Math.max(Math.floor(clock.now().getTime() / 1000), last + 60);
      pod['status'] = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ ready: true, restartCount: 0, state: { running: { startedAt: new Date(last * 1000).toISOString() } } }] };
      const apiserver = pod.spec.containers[0]?.command?.[0] === 'kube-apiserver';
      k.procs.push({ node, pod: name, startedAt: last, apiserver, listening: !k.deaf(name) });
    }
    kube.objects.set(`${PODS_PREFIX}${name}`, pod);
  }

  function stop(name: string): void {
    kube.objects.delete(`${PODS_PREFIX}${name}`);
    if (!k.lingers(name)) k.procs = k.procs.filter((p) => p.pod !== name);
  }

  function reconcileDaemonSet(name: string): void {
    const ds = kube.objects.get(`${DS_PREFIX}${name}`) as (Obj & DaemonSet) | undefined;
    const mine = [...kube.objects.keys()].filter((p) => p.startsWith(`${PODS_PREFIX}${name}-g`)).map((p) => p.slice(PODS_PREFIX.length));
    if (!ds) {
      daemonSets.delete(name);
      mine.forEach(stop);
      return;
    }
    const template = JSON.stringify(ds.spec.template);
    const seen = daemonSets.get(name);
    const generation = !seen ? 1 : seen.template === template ? seen.generation : seen.generation + 1;
    daemonSets.set(name, { generation, template });
    const selector = (ds.spec.template.spec['nodeSelector'] ?? {}) as Record<string, string>;
    const labelsOf = (node: string) => ((kube.objects.get(`${paths.nodes()}/${node}`)?.metadata['labels'] ?? {}) as Record<string, string>);
    const placed = nodes.filter((node) => Object.entries(selector).every(([key, value]) => labelsOf(node.name)[key] === value));
    mine.filter((p) => !placed.some((node) => p.endsWith(`-${node.name}`))).forEach(stop);
    const n = placed.length;
    ds.metadata['generation'] = generation;
    ds['status'] = { observedGeneration: generation, desiredNumberScheduled: n, numberReady: n, updatedNumberScheduled: n };
    for (const node of placed) {
      const podName = `${name}-g${generation}-${node.name}`;
      if (mine.includes(podName)) continue;
      const t = ds.spec.template;
      start(node.name, {
        apiVersion: 'v1', kind: 'Pod',
        metadata: { name: podName, namespace: NAMESPACE, labels: { ...t.metadata.labels, 'pod-template-generation': String(generation) }, annotations: { ...t.metadata.annotations } },
        spec: { ...structuredClone(t.spec), nodeName: node.name },
      });
      // maxSurge 1, maxUnavailable 0: the old pod goes only once the new one is ready.
      if (!k.broken(podName)) mine.filter((p) => p.endsWith(`-${node.name}`)).forEach(stop);
    }
  }

  files.onChange = (node) => k.sync(node);
  kube.onWrite = async (verb, path) => {
    if (path.startsWith(DS_PREFIX)) reconcileDaemonSet(path.slice(DS_PREFIX.length));
    else if (path.startsWith(`${paths.nodes()}/`)) [...daemonSets.keys()].forEach(reconcileDaemonSet);
    else if (verb === 'create' && path.startsWith(PODS_PREFIX) && isAgentPod(kube.objects.get(path))) await runAgentPod(kube, files, path, STATIC_POD_PATH, (op, node) => k.agentFault(op, node));
  };
  return k;
}
