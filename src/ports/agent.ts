// The real NodeFiles: each operation is one short-lived pod pinned to the node (spec.nodeName, so it needs no
// scheduler), running a few lines of busybox sh on two hostPath mounts: the static pod directory at /m and the
// backup directory beside it at /b. Nothing else of the node (no pki, no keys) is mounted, except for removing
// this tool's directory at the end of a rollback, which mounts its parent. The pod is deleted
// afterwards whatever happened.
import { randomBytes } from 'node:crypto';
import { MANAGED_BY_KEY, MANAGED_BY_VALUE, NAMESPACE } from '../core/labels.ts';
import { SelfhostError } from '../core/errors.ts';
import { waitFor, type WaitCtx } from '../core/wait.ts';
import type { FaultHook } from '../core/fault.ts';
import { paths, type KubeApi, type Obj } from './kube.ts';
import type { NodeDirs, NodeFiles } from './nodefs.ts';

export { DEFAULT_AGENT_IMAGE } from './agent-image.ts';
export const AGENT_COMPONENT = 'node-agent';
const NOT_FOUND = 3;

// The backup directory must be this cluster's (src/ports/nodefs.ts BackupOwner): $OWNER is the kube-system UID.
const OWNED = [
  'if [ -n "$OWNER" ]; then',
  '  if [ -f /b/cluster-uid ]; then',
  '    [ "$(cat /b/cluster-uid)" = "$OWNER" ] || { echo "the backup directory on this node belongs to another cluster (kube-system uid $(cat /b/cluster-uid), this one is $OWNER): a leftover of kubeadm reset? move it away on the node and run the command again" >&2; exit 5; }',
  '  else',
  '    if [ "$ADOPT" != 1 ] && ls /b/*.yaml >/dev/null 2>&1; then echo "the backup directory on this node holds manifests of an unknown cluster (no cluster-uid): a leftover of kubeadm reset? move it away on the node and run the command again" >&2; exit 5; fi',
  '    echo "$OWNER" > /b/.cluster-uid.tmp && mv /b/.cluster-uid.tmp /b/cluster-uid',
  '  fi',
  'fi; ',
].join('\n');

// Each script gets $F (a validated file name) and, for writes, $CONTENT (base64).
export const AGENT_SCRIPTS = {
  read: 'if [ -f "/m/$F" ]; then cat "/m/$F"; else exit 3; fi',
  readBackup: 'if [ -f "/b/$F" ]; then cat "/b/$F"; else exit 3; fi',
  backup: OWNED + 'if [ ! -f "/b/$F" ]; then [ -f "/m/$F" ] || exit 3; cp "/m/$F" "/b/.$F.tmp" && sync && mv "/b/.$F.tmp" "/b/$F"; fi; cat "/b/$F"',
  write: 'echo "$CONTENT" | base64 -d > "/m/.$F.tmp" && sync && mv "/m/.$F.tmp" "/m/$F"',
  writeBackup: 'echo "$CONTENT" | base64 -d > "/b/.$F.tmp" && sync && mv "/b/.$F.tmp" "/b/$F"',
  remove: '[ -f "/b/$F" ] || { echo "no backup of $F on this node; refusing to remove it" >&2; exit 4; }; rm -f "/m/$F"',
  removeBackup: 'rm -f "/b/$F"',
  removeOwned: 'case "$F" in kubectl-selfhost-*) rm -f "/m/$F" ;; *) echo "refusing to remove $F: not a file of this tool" >&2; exit 4 ;; esac',
  // Runs with the parent of the manifest directory at /p (the only op that mounts it), to remove the directory too.
  // Refuses while any original is left in it: the directory goes only when nothing in it can be a last copy.
  removeBackups: 'for f in "/p/$F"/*.yaml; do case "$f" in */kube-apiserver.checkpoint.yaml) ;; *) [ -e "$f" ] && { echo "refusing to remove /p/$F: $f is still a backup" >&2; exit 4; } ;; esac; done; rm -rf "/p/$F"',
} as const;

type Op = keyof typeof AGENT_SCRIPTS;

export interface AgentOptions {
  kube: KubeApi;
  wait: WaitCtx;
  image: string;
  /** The fault hook (tests only): fires as agent/<op>/<file>/<node> after the operation, before its pod is deleted. */
  fault?: FaultHook;
}

export function agentNodeFiles(o: AgentOptions): NodeFiles {
  const run = (op: Op, node: string, dirs: NodeDirs, file: string, content?: string, extra: Record<string, string> = {}) => runAgent(o, op, node, dirs, file, content, extra);
  return {
    read: async (node, dirs, file) => (await run('read', node, dirs, file)).output,
    readBackup: async (node, dirs, file) => (await run('readBackup', node, dirs, file)).output,
    backup: async (node, dirs, file, owner) => (await run('backup', node, dirs, file, undefined, { OWNER: owner.clusterUid, ADOPT: owner.adopt ? '1' : '0' })).output,
    write: async (node, dirs, file, content) => void (await run('write', node, dirs, file, content)),
    writeBackup: async (node, dirs, file, content) => void (await run('writeBackup', node, dirs, file, content)),
    remove: async (node, dirs, file) => void (await run('remove', node, dirs, file)),
    removeOwned: async (node, dirs, file) => void (await run('removeOwned', node, dirs, file)),
    removeBackup: async (node, dirs, file) => void (await run('removeBackup', node, dirs, file)),
    removeBackups: async (node, dirs) => void (await run('removeBackups', node, dirs, dirs.backup.slice(dirs.backup.lastIndexOf('/') + 1))),
  };
}

export function agentPod(name: string, node: string, dirs: NodeDirs, image: string, script: string, env: Record<string, string>, parentMount = false): Obj {
  const parent = dirs.backup.slice(0, dirs.backup.lastIndexOf('/')) || '/';
  const volumes = parentMount
    ? [{ name: 'parent', hostPath: { path: parent, type: 'Directory' } }]
    : [{ name: 'manifests', hostPath: { path: dirs.manifests, type: 'Directory' } }, { name: 'backup', hostPath: { path: dirs.backup, type: 'DirectoryOrCreate' } }];
  const mounts = parentMount ? [{ name: 'parent', mountPath: '/p' }] : [{ name: 'manifests', mountPath: '/m' }, { name: 'backup', mountPath: '/b' }];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NAMESPACE, labels: { [MANAGED_BY_KEY]: MANAGED_BY_VALUE, 'app.kubernetes.io/component': AGENT_COMPONENT } },
    spec: {
      nodeName: node,
      restartPolicy: 'Never',
      hostNetwork: true,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 0,
      priorityClassName: 'system-node-critical',
      tolerations: [{ operator: 'Exists' }],
      containers: [{
        name: 'agent',
        image,
        imagePullPolicy: 'IfNotPresent',
        command: ['sh', '-c', script],
        env: Object.entries(env).map(([k, v]) => ({ name: k, value: v })),
        volumeMounts: mounts,
        resources: { requests: { cpu: '10m', memory: '16Mi' } },
      }],
      volumes,
    },
  };
}

type AgentPodStatus = { status?: { phase?: string; containerStatuses?: Array<{ state?: { waiting?: { reason?: string; message?: string }; terminated?: { exitCode?: number; reason?: string } } }> } };

async function runAgent(o: AgentOptions, op: Op, node: string, dirs: NodeDirs, file: string, content?: string, extra: Record<string, string> = {}): Promise<{ output: string | null }> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(file)) throw new SelfhostError('failed', `refusing an unsafe manifest file name "${file}"`);
  const name = `kubectl-selfhost-agent-${node}`.slice(0, 50).replace(/[^a-z0-9-]/g, '-').replace(/-+$/, '') + `-${randomBytes(3).toString('hex')}`;
  const env: Record<string, string> = { ...extra, F: file };
  if (content !== undefined) env['CONTENT'] = Buffer.from(content).toString('base64');
  const tag = `agent/${node}`;
  await o.kube.create(paths.pods(NAMESPACE), agentPod(name, node, dirs, o.image, AGENT_SCRIPTS[op], env, op === 'removeBackups'));
  try {
    let last: AgentPodStatus | null = null;
    await waitFor(o.wait, tag, `node agent ${name} (${op} ${file}) to finish on ${node}`, async () => {
      last = await o.kube.get<AgentPodStatus>(paths.pod(NAMESPACE, name));
      const phase = last?.status?.phase ?? 'not found';
      const st = last?.status?.containerStatuses?.[0]?.state;
      const why = st?.waiting ? `waiting: ${st.waiting.reason ?? ''} ${st.waiting.message ?? ''}`.trim() : st?.terminated ? `terminated: exit ${st.terminated.exitCode}` : '';
      return { done: phase === 'Succeeded' || phase === 'Failed', seen: `pod phase ${phase}${why ? `, ${why}` : ''}` };
    });
    const status = last as AgentPodStatus | null;
    const exitCode = status?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode ?? (status?.status?.phase === 'Succeeded' ? 0 : -1);
    const log = await o.kube.raw(`${paths.podLog(NAMESPACE, name)}?container=agent`);
    // The log is the agent's answer (a file's content): an error page in its place must never pass for one.
    if (log.status !== 200) throw new SelfhostError('failed', `cannot read the log of node agent ${name} on ${node} (HTTP ${log.status}: ${log.body.trim().split('\n')[0]!.slice(0, 200)}); run the command again`);
    if (exitCode === 0 || exitCode === NOT_FOUND) o.fault?.(`agent/${op}/${file}/${node}`, 'after');
    if (exitCode === 0) return { output: log.body };
    if (exitCode === NOT_FOUND) return { output: null };
    throw new SelfhostError('failed', `node agent on ${node} failed to ${op} ${file} (exit ${exitCode}): ${log.body.trim().split('\n').pop() ?? ''}`);
  } finally {
    await o.kube.delete(paths.pod(NAMESPACE, name), { gracePeriodSeconds: 0 }).catch(() => false);
  }
}
