// What a node runs for a node-agent pod (src/ports/agent.ts): the NodeFiles operation its script does, on the fake
// NodeFiles, ending as the real pod ends (phase, exit code 0, 3 for "not found", 4 for a refusal; the log is the
// answer). Which operation a script does is learnt from the real adapter, by recording the pod it creates for each
// operation, so this fake follows the scripts when they change and never copies them.
import { NAMESPACE } from '../../../src/core/labels.ts';
import { AGENT_COMPONENT, agentNodeFiles } from '../../../src/ports/agent.ts';
import { paths, type KubeApi, type Obj } from '../../../src/ports/kube.ts';
import { nodeDirs, type NodeFiles } from '../../../src/ports/nodefs.ts';
import { fakeClock } from './clock.ts';
import type { FakeKube } from './kube.ts';

export type Op = keyof NodeFiles;
type AgentPod = Obj & { spec: { nodeName: string; containers: Array<{ command: string[]; env: Array<{ name: string; value: string }> }> }; status?: object };

const OPS: Op[] = ['read', 'readBackup', 'backup', 'write', 'writeBackup', 'remove', 'removeOwned', 'removeBackup', 'removeBackups'];
const scriptOf = (pod: Obj) => (pod as AgentPod).spec.containers[0]!.command.at(-1)!;

async function learnScripts(): Promise<Map<string, Op>> {
  const scripts = new Map<string, Op>();
  let current: Op = 'read';
  const done = { status: { phase: 'Succeeded', containerStatuses: [{ state: { terminated: { exitCode: 0 } } }] } };
  const recorder: KubeApi = {
    get: async () => done as never,
    list: async () => [],
    create: async (_p, body) => { scripts.set(scriptOf(body), current); return body; },
    replace: async (_p, body) => body,
    patch: async () => ({}) as never,
    delete: async () => true,
    raw: async () => ({ status: 200, body: '' }),
  };
  const adapter = agentNodeFiles({ kube: recorder, wait: { clock: fakeClock(), emit: () => undefined, timeoutMs: 1000 }, image: 'learn' });
  const dirs = nodeDirs('/etc/kubernetes/manifests');
  for (const op of OPS) {
    current = op;
    await (adapter[op] as (node: string, d: typeof dirs, file: string, content: string) => Promise<unknown>)('n', dirs, 'f.yaml', 'c');
  }
  return scripts;
}

const SCRIPTS = await learnScripts();

export const isAgentPod = (pod: Obj | undefined) => (pod?.metadata['labels'] as Record<string, string> | undefined)?.['app.kubernetes.io/component'] === AGENT_COMPONENT;

/** What can go wrong with an agent pod on its node: its image cannot be pulled, the disk under the backup directory
 * is full (the script's write fails), or someone deletes the pod while it runs. */
export type AgentFault = 'image-pull' | 'disk-full' | 'deleted';

/** Runs the agent pod at path to its end: status and log set as the kubelet and the container would leave them. */
export async function runAgentPod(kube: FakeKube, files: NodeFiles, path: string, staticPodPath: string, fault: (op: Op | undefined, node: string) => AgentFault | null = () => null): Promise<void> {
  const pod = kube.objects.get(path) as AgentPod;
  const c = pod.spec.containers[0]!;
  const op = SCRIPTS.get(scriptOf(pod));
  const f = fault(op, pod.spec.nodeName);
  if (f === 'image-pull') {
    pod.status = { phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${(c as { image?: string }).image ?? ''}"` } } }] };
    return;
  }
  if (f === 'deleted') {
    kube.objects.delete(path);
    return;
  }
  if (f === 'disk-full') {
    // What the scripts do when a write fails (src/ports/agent.ts): the temporary file removed, exit 5, one line.
    pod.status = { phase: 'Failed', containerStatuses: [{ state: { terminated: { exitCode: 5 } } }] };
    kube.rawAnswers.set(`${paths.podLog(NAMESPACE, pod.metadata.name!)}?container=agent`, { status: 200, body: `cannot back up ${Object.fromEntries(c.env.map((e) => [e.name, e.value]))['F']} (disk full?); nothing was changed\n` });
    return;
  }
  const env = Object.fromEntries(c.env.map((e) => [e.name, e.value]));
  let exitCode = 0;
  let log = '';
  try {
    if (!op) throw new Error('unknown agent script');
    const content = env['CONTENT'] === undefined ? '' : Buffer.from(env['CONTENT'], 'base64').toString();
    const out = await (files[op] as (node: string, d: object, file: string, content: string) => Promise<string | null | void>)(pod.spec.nodeName, nodeDirs(staticPodPath), env['F']!, content);
    if (out === null) exitCode = 3;
    else if (typeof out === 'string') log = out;
  } catch (err) {
    exitCode = 4;
    log = `${(err as Error).message}\n`;
  }
  pod.status = { phase: exitCode === 0 ? 'Succeeded' : 'Failed', containerStatuses: [{ state: { terminated: { exitCode } } }] };
  kube.rawAnswers.set(`${paths.podLog(NAMESPACE, pod.metadata.name!)}?container=agent`, { status: 200, body: log });
}
