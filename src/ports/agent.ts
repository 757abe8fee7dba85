// The real NodeFiles: each operation is one short-lived pod pinned to the node (spec.nodeName, so it needs no
// scheduler), running a few lines of busybox sh. It mounts only the directories its operation touches, read-only
// unless it writes there: the static pod directory at /m, this tool's backup directory at /b. Nothing else of the
// node (no pki, no kubeconfigs, not the parent /etc/kubernetes) is ever mounted. The pod is deleted afterwards
// whatever happened.
import { randomBytes } from 'node:crypto';
import { API_GROUP, MANAGED_BY_KEY, MANAGED_BY_VALUE, NAMESPACE } from '../core/labels.ts';
import { SelfhostError } from '../core/errors.ts';
import { NODE_SECURITY_CONTEXT, OWNER_ONLY_UMASK } from '../core/node-security.ts';
import { waitFor, type WaitCtx } from '../core/wait.ts';
import { checkAgentImage } from './agent-image.ts';
import type { FaultHook } from '../core/fault.ts';
import { ApiError, createOrReplace, paths, type KubeApi, type Obj } from './kube.ts';
import type { NodeDirs, NodeFiles, NodeSockets } from './nodefs.ts';
import type { NodeHelper } from './node-helper.ts';
import { helperConfigMapName, type HelperArch } from '../core/port-sharing.ts';
import { PROBE_ADDRESS } from '../core/steering.ts';

export { DEFAULT_AGENT_IMAGE } from './agent-image.ts';
export const AGENT_COMPONENT = 'node-agent';
/** The label value of the node helper's ConfigMaps (one per call, deleted after it, or by the next run). */
export const HELPER_COMPONENT = 'node-helper';
const NOT_FOUND = 3;
/**
 * How often an agent pod is looked at while it runs. The kubelet reports a finished pod within about a second (its
 * pod lifecycle relist), and a pivot runs dozens of agent pods one after the other: polled each second, each one
 * would wait half a second on average after it had finished. Four reads a second of one pod cost the API little.
 */
export const AGENT_POLL_MS = 250;

type Access = 'ro' | 'rw';
interface AgentOp {
  /** How the static pod directory (/m) and the backup directory (/b) are mounted; absent: not at all. */
  manifests?: Access;
  backup?: Access;
  /**
   * Runs the node helper (src/node-helper) on a process of the node: its gzip'd binary from a ConfigMap at /h, a
   * memory-backed scratch directory at /w to unpack it in, the host's PID namespace to see the process, and
   * CAP_SYS_PTRACE, which pidfd_getfd requires (it takes a copy of another process's descriptor). Nothing else.
   */
  helper?: true;
  /**
   * The node's /proc/sys/net/ipv4/tcp_migrate_req (a hostPath file, read-write) at /s, when the call's $MIGRATE is 1.
   * Net sysctls are per network namespace: the pod is in the node's (hostNetwork), and writing the file needs only
   * root there, no capability.
   */
  sysctl?: true;
  script: string;
}

/**
 * `put DIR`: $CONTENT (base64) becomes DIR/$F through a dotfile renamed into place (the kubelet ignores dotfiles),
 * keeping the mode of the file it replaces (a new one gets 0600 from the umask). A failed write (a full disk)
 * removes the dotfile and leaves DIR/$F as it was.
 */
const PUT = [
  'put() {',
  '  t="$1/.$F.tmp"',
  '  if echo "$CONTENT" | base64 -d > "$t" && { [ ! -f "$1/$F" ] || chmod "$(stat -c %a "$1/$F")" "$t"; } && sync && mv -f "$t" "$1/$F"; then return 0; fi',
  '  rm -f "$t"; echo "cannot write $F (disk full?); the file on the node is as it was" >&2; exit 5',
  '}',
].join('\n');

// Each script gets $F (a validated file name) and, for writes, $CONTENT (base64). M and B default to the mount
// points and exist so that the unit tests run the same scripts against a temporary directory.
const PRELUDE = `${OWNER_ONLY_UMASK}; : "\${M:=/m}" "\${B:=/b}"`;

// The backup directory must be this cluster's (src/core/snapshot.ts BackupOwner): $OWNER is the kube-system UID.
const OWNED = [
  'if [ -n "$OWNER" ]; then',
  '  if [ -f "$B/cluster-uid" ]; then',
  '    [ "$(cat "$B/cluster-uid")" = "$OWNER" ] || { echo "the backup directory on this node belongs to another cluster (kube-system uid $(cat "$B/cluster-uid"), this one is $OWNER): a leftover of kubeadm reset? move it away on the node and run the command again" >&2; exit 5; }',
  '  else',
  '    if [ "$ADOPT" != 1 ] && ls "$B"/*.yaml >/dev/null 2>&1; then echo "the backup directory on this node holds manifests of an unknown cluster (no cluster-uid): a leftover of kubeadm reset? move it away on the node and run the command again" >&2; exit 5; fi',
  '    { echo "$OWNER" > "$B/.cluster-uid.tmp" && mv -f "$B/.cluster-uid.tmp" "$B/cluster-uid"; } || { rm -f "$B/.cluster-uid.tmp"; echo "cannot write $B/cluster-uid (disk full?); nothing was changed" >&2; exit 5; }',
  '  fi',
  'fi',
].join('\n');

/** Unpacks the node helper from its ConfigMap ($H) into memory ($W) and checks it against $SHA before it runs. */
const UNPACK = [
  ': "${H:=/h}" "${W:=/w}"',
  'gunzip -c "$H/node-helper.gz" > "$W/node-helper" || { echo "cannot unpack the node helper" >&2; exit 1; }',
  'echo "$SHA  $W/node-helper" | sha256sum -c - >/dev/null 2>&1 || { rm -f "$W/node-helper"; echo "the node helper does not match its checksum; nothing was changed" >&2; exit 1; }',
  'chmod 700 "$W/node-helper"',
].join('\n');

export const AGENT_OPS = {
  read: { manifests: 'ro', script: 'if [ -f "$M/$F" ]; then cat "$M/$F"; else exit 3; fi' },
  readBackup: { backup: 'ro', script: 'if [ -f "$B/$F" ]; then cat "$B/$F"; else exit 3; fi' },
  backup: {
    manifests: 'ro', backup: 'rw',
    script: [
      // The kubelet creates a missing backup directory 0755; it holds copies of 0600 files, so 0700 as kubeadm's.
      'chmod 700 "$B"',
      OWNED,
      'if [ ! -f "$B/$F" ]; then',
      '  [ -f "$M/$F" ] || exit 3',
      '  t="$B/.$F.tmp"',
      '  { cp "$M/$F" "$t" && sync && mv -f "$t" "$B/$F"; } || { rm -f "$t"; echo "cannot back up $F (disk full?); nothing was changed" >&2; exit 5; }',
      'fi',
      'cat "$B/$F"',
    ].join('\n'),
  },
  write: { manifests: 'rw', script: `${PUT}\nput "$M"` },
  writeBackup: { backup: 'rw', script: `${PUT}\nchmod 700 "$B"\nput "$B"` },
  remove: { manifests: 'rw', backup: 'ro', script: '[ -f "$B/$F" ] || { echo "no backup of $F on this node; refusing to remove it" >&2; exit 4; }; rm -f "$M/$F"' },
  removeOwned: { manifests: 'rw', script: 'case "$F" in kubectl-selfhost-*) rm -f "$M/$F" ;; *) echo "refusing to remove $F: not a file of this tool" >&2; exit 4 ;; esac' },
  removeBackup: { backup: 'rw', script: 'rm -f "$B/$F"' },
  // Empties the backup directory, refusing while any original is left in it (it may be a last copy). The directory
  // itself stays (empty, 0700): removing it would take a writable mount of its parent, /etc/kubernetes, pki and
  // kubeconfigs included.
  // $SHA: the binary's sha256, checked before it runs; $PORT and $EXE: what share-port acts on. The helper's exit
  // codes 3 (nothing to act on), 4 (kernel lacks it) and 5 (not permitted) tell pivot to restart instead.
  sharePort: { helper: true, script: `${UNPACK}\nexec "$W/node-helper" share-port --port "$PORT" --exe "$F"` },
  // $TO: old, new or none (src/core/steering.ts); $MIGRATE=1: the node's net.ipv4.tcp_migrate_req, mounted at $S,
  // is set to 1 for the hand-over, its value kept first in the backup directory (once: a run again keeps the
  // first), and put back by none. A value that cannot be kept or set exits 5: the hand-over goes on unsteered.
  steer: {
    helper: true, backup: 'rw', sysctl: true,
    script: [
      UNPACK,
      ': "${S:=/s/tcp_migrate_req}" "${NET:=/proc/net}" "${WGET:=wget}"',
      'K="$B/tcp_migrate_req.orig"',
      'if [ "$TO" = none ]; then',
      '  "$W/node-helper" steer --port "$PORT" --exe "$F" --to none; rc=$?',
      '  if [ -f "$K" ]; then { cat "$K" > "$S" && rm -f "$K"; } || { echo "cannot put net.ipv4.tcp_migrate_req back to $(cat "$K"); set it by hand on the node (sysctl -w) and delete $K" >&2; exit 1; }; fi',
      '  exit $rc',
      'fi',
      'if [ "$MIGRATE" = 1 ]; then',
      '  if [ ! -f "$K" ]; then { cat "$S" > "$B/.tcp_migrate_req.tmp" && mv -f "$B/.tcp_migrate_req.tmp" "$K"; } || { rm -f "$B/.tcp_migrate_req.tmp"; echo "cannot keep the node\'s net.ipv4.tcp_migrate_req (disk full?)" >&2; exit 5; }; fi',
      '  echo 1 > "$S" || { echo "cannot set net.ipv4.tcp_migrate_req" >&2; exit 5; }',
      'fi',
      // new: only once the new process listens beside the old one (two listeners: the probe address then reaches it
      // alone) and answers /readyz there ($PROBE; busybox wget, TLS unchecked: only the answer matters; its -T crashes
      // busybox 1.35 with TLS, so timeout bounds it), for at most
      // $WAIT seconds; else the program is detached (the hash, as without steering) and the exit is 3.
      'if [ "$TO" = new ]; then',
      '  hex=$(printf "%04X" "$PORT"); i=0',
      '  until [ "$(cat "$NET/tcp" "$NET/tcp6" 2>/dev/null | awk -v p=":$hex" \'$2 ~ p"$" && $4 == "0A"\' | wc -l)" -ge 2 ] && timeout 5 $WGET -q -O - --no-check-certificate "https://$PROBE:$PORT/readyz" 2>/dev/null | grep -qx ok; do',
      '    i=$((i+1))',
      '    if [ "$i" -ge $((WAIT*2)) ]; then "$W/node-helper" steer --port "$PORT" --exe "$F" --to none >/dev/null; echo "the new $F did not answer /readyz at $PROBE:$PORT beside the old one within $WAIT s (an agent image without TLS in wget?): not steered" >&2; exit 3; fi',
      '    sleep 0.5',
      '  done',
      'fi',
      'exec "$W/node-helper" steer --port "$PORT" --exe "$F" --to "$TO" --probe "$PROBE"',
    ].join('\n'),
  },
  removeBackups: {
    backup: 'rw',
    script: 'for f in "$B"/*.yaml; do case "$f" in */kube-apiserver.checkpoint.yaml) ;; *) [ -e "$f" ] && { echo "refusing to empty $B: $f is still a backup" >&2; exit 4; } ;; esac; done; rm -rf "$B"/* "$B"/.[!.]* "$B"/..?*',
  },
} as const satisfies Record<string, AgentOp>;

type Op = keyof typeof AGENT_OPS;

/** The whole script an operation runs in the pod. */
export const agentScript = (op: Op): string => `${PRELUDE}\n${AGENT_OPS[op].script}`;

export interface AgentOptions {
  kube: KubeApi;
  wait: WaitCtx;
  image: string;
  /** The fault hook (tests only): fires as agent/<op>/<file>/<node> after the operation, before its pod is deleted. */
  fault?: FaultHook;
}

export function agentNodeFiles(o: AgentOptions): NodeFiles {
  // Checked here too, before any agent pod exists, for callers that did not check the flag on parsing.
  checkAgentImage(o.image);
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


export function agentPod(name: string, node: string, dirs: NodeDirs, image: string, op: Op, env: Record<string, string>, helperArch?: HelperArch): Obj {
  const spec: AgentOp = AGENT_OPS[op];
  const volumes: Array<Record<string, unknown>> = [];
  const mounts: Array<{ name: string; mountPath: string; readOnly: boolean }> = [];
  if (spec.helper) {
    if (!helperArch) throw new Error(`the node agent's ${op} runs the node helper: its architecture is needed`);
    volumes.push({ name: 'helper', configMap: { name: helperConfigMapName(helperArch), items: [{ key: 'node-helper.gz', path: 'node-helper.gz' }] } });
    mounts.push({ name: 'helper', mountPath: '/h', readOnly: true });
    volumes.push({ name: 'work', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } });
    mounts.push({ name: 'work', mountPath: '/w', readOnly: false });
  }
  if (spec.sysctl && env['MIGRATE'] === '1') {
    volumes.push({ name: 'sysctl', hostPath: { path: '/proc/sys/net/ipv4/tcp_migrate_req', type: 'File' } });
    mounts.push({ name: 'sysctl', mountPath: '/s/tcp_migrate_req', readOnly: false });
  }
  if (spec.manifests) {
    volumes.push({ name: 'manifests', hostPath: { path: dirs.manifests, type: 'Directory' } });
    mounts.push({ name: 'manifests', mountPath: '/m', readOnly: spec.manifests === 'ro' });
  }
  if (spec.backup) {
    // DirectoryOrCreate: an operation on a node that has no backup yet must start (and say "no backup").
    volumes.push({ name: 'backup', hostPath: { path: dirs.backup, type: 'DirectoryOrCreate' } });
    mounts.push({ name: 'backup', mountPath: '/b', readOnly: spec.backup === 'ro' });
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NAMESPACE, labels: { [MANAGED_BY_KEY]: MANAGED_BY_VALUE, 'app.kubernetes.io/component': AGENT_COMPONENT } },
    spec: {
      nodeName: node,
      restartPolicy: 'Never',
      // The host's network, so that the agent depends on no pod network (on a control-plane node the CNI may
      // itself need the components being moved); the script opens no socket.
      hostNetwork: true,
      ...(spec.helper ? { hostPID: true } : {}),
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 0,
      priorityClassName: 'system-node-critical',
      tolerations: [{ operator: 'Exists' }],
      containers: [{
        name: 'agent',
        image,
        imagePullPolicy: 'IfNotPresent',
        command: ['sh', '-c', agentScript(op)],
        env: Object.entries(env).map(([k, v]) => ({ name: k, value: v })),
        volumeMounts: mounts,
        securityContext: spec.helper ? { ...NODE_SECURITY_CONTEXT, capabilities: { drop: ['ALL'], add: ['SYS_PTRACE'] } } : NODE_SECURITY_CONTEXT,
        resources: { requests: { cpu: '10m', memory: '16Mi' } },
      }],
      volumes,
    },
  };
}

/** Waiting reasons of a container whose image the kubelet could not get and will not get by waiting. */
const PULL_FAILURES = ['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'ErrImageNeverPull'];

type AgentPodStatus = { status?: { phase?: string; containerStatuses?: Array<{ state?: { waiting?: { reason?: string; message?: string }; terminated?: { exitCode?: number; reason?: string } } }> } };

interface RunMore {
  /** The node's architecture, for an operation that runs the node helper. */
  helperArch?: HelperArch;
  /** Exit codes returned to the caller (with the log's last line) instead of thrown. */
  soft?: readonly number[];
}

async function runAgent(o: AgentOptions, op: Op, node: string, dirs: NodeDirs, file: string, content?: string, extra: Record<string, string> = {}, more: RunMore = {}): Promise<{ output: string | null; exitCode: number }> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(file)) throw new SelfhostError('failed', `refusing an unsafe manifest file name "${file}"`);
  const name = `kubectl-selfhost-agent-${node}`.slice(0, 50).replace(/[^a-z0-9-]/g, '-').replace(/-+$/, '') + `-${randomBytes(3).toString('hex')}`;
  const env: Record<string, string> = { ...extra, F: file };
  if (content !== undefined) env['CONTENT'] = Buffer.from(content).toString('base64');
  const tag = `agent/${node}`;
  await o.kube.create(paths.pods(NAMESPACE), agentPod(name, node, dirs, o.image, op, env, more.helperArch)).catch((err: unknown) => {
    // Pod Security Admission stricter than kubeadm's default on kube-system: no node agent can run there.
    if (err instanceof ApiError && err.status === 403 && /violates PodSecurity/.test(err.message)) {
      throw new SelfhostError('precondition', `Pod Security Admission refuses the node agent pods in kube-system (${err.message.replace(/^.*?violates /, 'violates ').split('\n')[0]!.slice(0, 200)}); nothing was changed: the agents need hostPath mounts of the manifest directories, so kube-system must allow privileged pods (kubectl label namespace kube-system pod-security.kubernetes.io/enforce=privileged --overwrite, as kubeadm leaves it)`, { cause: err });
    }
    throw err;
  });
  try {
    let last: AgentPodStatus | null = null;
    await waitFor({ ...o.wait, pollMs: AGENT_POLL_MS }, tag, `node agent ${name} (${op} ${file}) to finish on ${node}`, async () => {
      const pod = await o.kube.get<AgentPodStatus>(paths.pod(NAMESPACE, name));
      last = pod;
      // Two ends no wait fixes: the pod deleted under us (did its operation run? the step's re-check on the next
      // run tells), and an image the node cannot pull (the kubelet backs off; --agent-image is the way out).
      if (pod === null) throw new SelfhostError('failed', `node agent pod ${name} on ${node} was deleted before it finished (${op} ${file}); run the command again: it re-checks what was done`);
      const st = pod.status?.containerStatuses?.[0]?.state;
      if (st?.waiting?.reason && PULL_FAILURES.includes(st.waiting.reason)) {
        throw new SelfhostError('failed', `node ${node} cannot pull the node agent image ${o.image} (${st.waiting.reason}${st.waiting.message ? `: ${st.waiting.message.split('\n')[0]!.slice(0, 200)}` : ''}); nothing was changed on the node: pass --agent-image with an image the control-plane nodes have or can pull`);
      }
      const phase = pod.status?.phase ?? 'unknown';
      const why = st?.waiting ? `waiting: ${st.waiting.reason ?? ''} ${st.waiting.message ?? ''}`.trim() : st?.terminated ? `terminated: exit ${st.terminated.exitCode}` : '';
      return { done: phase === 'Succeeded' || phase === 'Failed', seen: `pod phase ${phase}${why ? `, ${why}` : ''}` };
    });
    const status = last as AgentPodStatus | null;
    const exitCode = status?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode ?? (status?.status?.phase === 'Succeeded' ? 0 : -1);
    const log = await o.kube.raw(`${paths.podLog(NAMESPACE, name)}?container=agent`);
    // The log is the agent's answer (a file's content): an error page in its place must never pass for one.
    if (log.status !== 200) throw new SelfhostError('failed', `cannot read the log of node agent ${name} on ${node} (HTTP ${log.status}: ${log.body.trim().split('\n')[0]!.slice(0, 200)}); run the command again`);
    if (exitCode === 0 || exitCode === NOT_FOUND) o.fault?.(`agent/${op}/${file}/${node}`, 'after');
    if (exitCode === 0) return { output: log.body, exitCode };
    if (more.soft?.includes(exitCode)) return { output: log.body.trim().split('\n').pop() ?? '', exitCode };
    if (exitCode === NOT_FOUND) return { output: null, exitCode };
    throw new SelfhostError('failed', `node agent on ${node} failed to ${op} ${file} (exit ${exitCode}): ${log.body.trim().split('\n').pop() ?? ''}`);
  } finally {
    await o.kube.delete(paths.pod(NAMESPACE, name), { gracePeriodSeconds: 0 }).catch(() => false);
  }
}

/** The node helper's exit codes after which pivot restarts the static pod instead (src/node-helper/main.go). */
const HELPER_FALLBACK = { 3: 'nothing to act on', 4: 'the kernel lacks it', 5: 'not permitted' } as const;

/**
 * The real NodeSockets: the node helper in an agent pod. Its binary goes to the node in a ConfigMap of this run
 * (created for the call, deleted after it whatever happened) and is checked against its sha256 before it runs.
 */
export function agentNodeSockets(o: AgentOptions & { helper: NodeHelper }): NodeSockets {
  // The helper's ConfigMap for one call: created (one a killed run left is replaced), deleted after it whatever happened.
  const withHelper = async <T>(arch: HelperArch, f: (sha256: string) => Promise<T>): Promise<T> => {
    const b = o.helper.binary(arch);
    const cm = helperConfigMapName(arch);
    const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: cm, namespace: NAMESPACE, labels: { [MANAGED_BY_KEY]: MANAGED_BY_VALUE, 'app.kubernetes.io/component': HELPER_COMPONENT }, annotations: { [`${API_GROUP}/sha256`]: b.sha256 } }, binaryData: { 'node-helper.gz': b.gz.toString('base64') } };
    await createOrReplace(o.kube, paths.configMaps(NAMESPACE), paths.configMap(NAMESPACE, cm), body);
    try {
      return await f(b.sha256);
    } finally {
      await o.kube.delete(paths.configMap(NAMESPACE, cm)).catch(() => false);
    }
  };
  const soft = { soft: Object.keys(HELPER_FALLBACK).map(Number) };
  const why = (r: { exitCode: number; output: string | null }) => `${HELPER_FALLBACK[r.exitCode as 3 | 4 | 5]}: ${r.output ?? ''}`.trim();
  return {
    sharePort: (node, dirs, arch, exe, port) => withHelper(arch, async (sha) => {
      const r = await runAgent(o, 'sharePort', node, dirs, exe, undefined, { SHA: sha, PORT: String(port) }, { helperArch: arch, ...soft });
      if (r.exitCode !== 0) return { done: false, why: why(r) };
      const shared = JSON.parse(r.output ?? '[]') as Array<{ alreadyShared: boolean }>;
      return { done: true, already: shared.length > 0 && shared.every((x) => x.alreadyShared) };
    }),
    steer: (node, dirs, arch, exe, port, to, migrate) => withHelper(arch, async (sha) => {
      const r = await runAgent(o, 'steer', node, dirs, exe, undefined, { SHA: sha, PORT: String(port), TO: to, MIGRATE: migrate ? '1' : '0', PROBE: PROBE_ADDRESS, WAIT: String(Math.max(10, Math.floor(o.wait.timeoutMs / 1000) - 15)) }, { helperArch: arch, ...soft });
      if (r.exitCode !== 0) return { done: false, why: why(r) };
      const out = JSON.parse(r.output?.trim().split('\n').pop() ?? '{}') as { wasAttached?: boolean };
      return { done: true, wasAttached: out.wasAttached === true };
    }),
  };
}
