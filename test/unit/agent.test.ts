// The node agent: its pod (mounts per operation, securityContext, image verbatim) and its scripts, run with sh
// against a temporary directory, as the pod runs them against the node's (busybox too, when it is installed:
// the agent image is busybox).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AGENT_OPS, AGENT_POLL_MS, agentNodeFiles, agentNodeSockets, agentPod, agentScript } from '../../src/ports/agent.ts';
import { paths, type Obj } from '../../src/ports/kube.ts';
import { nodeDirs } from '../../src/ports/nodefs.ts';
import { fakeClock } from './fakes/clock.ts';
import { fakeKube } from './fakes/kube.ts';

const DIRS = nodeDirs('/etc/kubernetes/manifests');
type PodSpec = { nodeName: string; automountServiceAccountToken: boolean; volumes: Array<{ name: string; hostPath: { path: string; type: string } }>; containers: Array<{ image: string; securityContext: Record<string, unknown>; volumeMounts: Array<{ name: string; mountPath: string; readOnly: boolean }>; command: string[] }> };
const specOf = (op: keyof typeof AGENT_OPS) => (agentPod('a', 'cp-1', DIRS, 'busybox:x', op, { F: 'kube-apiserver.yaml' }) as Obj & { spec: PodSpec }).spec;

/** The operations on files; sharePort and steer run the node helper (their own tests below). */
const FILE_OPS = (Object.keys(AGENT_OPS) as Array<keyof typeof AGENT_OPS>).filter((op) => !('helper' in AGENT_OPS[op]));

describe('node agent pod', () => {
  it('for sharePort: the host\'s PID namespace and CAP_SYS_PTRACE only, the helper from a ConfigMap, no host path', () => {
    const s = (agentPod('a', 'cp-1', DIRS, 'busybox:x', 'sharePort', { F: 'kube-apiserver', SHA: 'x', PORT: '6443' }, 'arm64') as Obj & { spec: PodSpec & { hostPID?: boolean; hostNetwork?: boolean } }).spec;
    assert.equal(s.hostPID, true, 'to see the static pod\'s process');
    assert.equal(s.hostNetwork, true, 'to be in the network namespace of the port');
    assert.deepEqual(s.containers[0]!.securityContext, {
      runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, allowPrivilegeEscalation: false, privileged: false,
      capabilities: { drop: ['ALL'], add: ['SYS_PTRACE'] }, readOnlyRootFilesystem: true, seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.deepEqual(s.volumes, [
      { name: 'helper', configMap: { name: 'kubectl-selfhost-node-helper-arm64', items: [{ key: 'node-helper.gz', path: 'node-helper.gz' }] } },
      { name: 'work', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
    ] as never);
    assert.deepEqual(s.containers[0]!.volumeMounts.map((m) => `${m.name}:${m.mountPath}:${m.readOnly ? 'ro' : 'rw'}`), ['helper:/h:ro', 'work:/w:rw']);
    for (const op of FILE_OPS) assert.equal((specOf(op) as { hostPID?: boolean }).hostPID, undefined, `${op} stays out of the host's PID namespace`);
  });

  it('for steer: the helper\'s privileges, the backup directory, and the node\'s tcp_migrate_req file only when it is to be set', () => {
    const spec = (migrate: string) => (agentPod('a', 'cp-1', DIRS, 'busybox:x', 'steer', { F: 'kube-apiserver', SHA: 'x', PORT: '6443', TO: 'old', MIGRATE: migrate }, 'amd64') as Obj & { spec: PodSpec & { hostPID?: boolean } }).spec;
    const mounts = (s: PodSpec) => s.containers[0]!.volumeMounts.map((m) => `${m.name}:${m.mountPath}:${m.readOnly ? 'ro' : 'rw'}`);
    const withSysctl = spec('1');
    assert.equal(withSysctl.hostPID, true);
    assert.deepEqual((withSysctl.containers[0]!.securityContext as { capabilities: unknown }).capabilities, { drop: ['ALL'], add: ['SYS_PTRACE'] });
    assert.deepEqual(mounts(withSysctl), ['helper:/h:ro', 'work:/w:rw', 'sysctl:/s/tcp_migrate_req:rw', 'backup:/b:rw']);
    assert.deepEqual(withSysctl.volumes.find((v) => v.name === 'sysctl')!.hostPath, { path: '/proc/sys/net/ipv4/tcp_migrate_req', type: 'File' });
    assert.deepEqual(mounts(spec('0')), ['helper:/h:ro', 'work:/w:rw', 'backup:/b:rw'], 'a kernel without it: no such file is mounted (a File hostPath that is missing would keep the pod from starting)');
  });

  it('mounts only the directories its operation touches, read-only where it only reads', () => {
    const mounts = Object.fromEntries(FILE_OPS.map((op) => {
      const s = specOf(op as keyof typeof AGENT_OPS);
      const path = (name: string) => s.volumes.find((v) => v.name === name)!.hostPath.path;
      return [op, s.containers[0]!.volumeMounts.map((m) => `${path(m.name)}:${m.readOnly ? 'ro' : 'rw'}`).join(' ')];
    }));
    assert.deepEqual(mounts, {
      read: '/etc/kubernetes/manifests:ro',
      readBackup: '/etc/kubernetes/selfhost-backup:ro',
      backup: '/etc/kubernetes/manifests:ro /etc/kubernetes/selfhost-backup:rw',
      write: '/etc/kubernetes/manifests:rw',
      writeBackup: '/etc/kubernetes/selfhost-backup:rw',
      remove: '/etc/kubernetes/manifests:rw /etc/kubernetes/selfhost-backup:ro',
      removeOwned: '/etc/kubernetes/manifests:rw',
      removeBackup: '/etc/kubernetes/selfhost-backup:rw',
      removeBackups: '/etc/kubernetes/selfhost-backup:rw',
    });
  });

  it('runs as root without any capability, privilege escalation or writable root filesystem, pinned to its node', () => {
    for (const op of FILE_OPS) {
      const s = specOf(op);
      assert.deepEqual(s.containers[0]!.securityContext, {
        runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, allowPrivilegeEscalation: false, privileged: false,
        capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true, seccompProfile: { type: 'RuntimeDefault' },
      });
      assert.equal(s.nodeName, 'cp-1');
      assert.equal(s.automountServiceAccountToken, false);
      assert.match(s.containers[0]!.command[2]!, /^umask 077;/);
    }
  });

  it('uses the image verbatim, a digest-pinned one too, and refuses a malformed one before any pod exists', async () => {
    const pinned = `registry.example:5000/mirror/busybox@sha256:${'ab12'.repeat(16)}`;
    const kube = fakeKube();
    const created: Obj[] = [];
    kube.create = async (_p, body) => { created.push(body); return { ...body, status: { phase: 'Succeeded', containerStatuses: [{ state: { terminated: { exitCode: 0 } } }] } }; };
    kube.get = async () => ({ ...created.at(-1)!, status: { phase: 'Succeeded', containerStatuses: [{ state: { terminated: { exitCode: 0 } } }] } }) as never;
    kube.raw = async () => ({ status: 200, body: 'x' });
    await agentNodeFiles({ kube, wait: { clock: fakeClock(), emit: () => {}, timeoutMs: 10_000 }, image: pinned }).read('cp-1', DIRS, 'kube-apiserver.yaml');
    assert.equal((created[0] as Obj & { spec: PodSpec }).spec.containers[0]!.image, pinned);
    assert.throws(() => agentNodeFiles({ kube, wait: { clock: fakeClock(), emit: () => {}, timeoutMs: 10_000 }, image: 'busybox@sha256:abc' }), /^Error: invalid --agent-image "busybox@sha256:abc": "sha256:abc" is not a digest/);
    assert.equal(created.length, 1);
  });

  it('returns the file the agent printed, and refuses an error page in place of its log', async () => {
    const kube = fakeKube();
    const create = kube.create.bind(kube);
    kube.create = async (p, body, o) => create(p, { ...body, status: { phase: 'Succeeded', containerStatuses: [{ state: { terminated: { exitCode: 0 } } }] } }, o);
    const files = agentNodeFiles({ kube, wait: { clock: fakeClock(), emit: () => {}, timeoutMs: 10_000 }, image: 'busybox:x' });
    const logOf = () => [...kube.objects.keys()].find((k) => k.includes('/pods/kubectl-selfhost-agent-'));
    // The fake answers the log of whichever agent pod exists at the time it is read.
    kube.raw = async (path) => (path.startsWith(`${logOf()}/log`) ? answer : { status: 404, body: 'not found' });
    let answer = { status: 200, body: 'apiVersion: v1\nkind: Pod\n' };
    assert.equal(await files.read('cp-1', DIRS, 'kube-apiserver.yaml'), 'apiVersion: v1\nkind: Pod\n');
    answer = { status: 403, body: '{"kind":"Status","message":"pods \\"x\\" is forbidden"}' };
    await assert.rejects(files.read('cp-1', DIRS, 'kube-apiserver.yaml'), /cannot read the log of node agent .* \(HTTP 403: /);
    assert.equal(logOf(), undefined, 'the agent pod is deleted either way');
    assert.ok(kube.calls.some((c) => c.startsWith(`DELETE ${paths.pods('kube-system')}/kubectl-selfhost-agent-cp-1-`)));
  });

  it('looks at a running agent pod every quarter second, whatever the operation\'s other waits poll at', async () => {
    const kube = fakeKube();
    const clock = fakeClock();
    const sleeps: number[] = [];
    const sleep = clock.sleep;
    clock.sleep = async (ms) => { sleeps.push(ms); await sleep(ms); };
    // The pod finishes on the fourth read of it.
    const get = kube.get.bind(kube);
    let reads = 0;
    kube.get = (async (p: string) => {
      const o = await get(p);
      if (o && p.includes('/pods/kubectl-selfhost-agent-') && ++reads >= 4) return { ...o, status: { phase: 'Succeeded', containerStatuses: [{ state: { terminated: { exitCode: 0 } } }] } };
      return o;
    }) as typeof kube.get;
    kube.raw = async () => ({ status: 200, body: 'kind: Pod\n' });
    const files = agentNodeFiles({ kube, wait: { clock, emit: () => {}, timeoutMs: 10_000, pollMs: 1000 }, image: 'busybox:x' });
    assert.equal(await files.read('cp-1', DIRS, 'kube-apiserver.yaml'), 'kind: Pod\n');
    assert.deepEqual(sleeps, [AGENT_POLL_MS, AGENT_POLL_MS, AGENT_POLL_MS]);
    assert.ok(AGENT_POLL_MS <= 250, 'a finished agent pod is seen within a quarter second');
  });

  it('keeps backups beside the static pod directory, never inside it', () => {
    assert.deepEqual(nodeDirs('/etc/kubernetes/manifests/'), { manifests: '/etc/kubernetes/manifests', backup: '/etc/kubernetes/selfhost-backup' });
    assert.deepEqual(nodeDirs('/manifests'), { manifests: '/manifests', backup: '/selfhost-backup' });
  });
});

// The shells the scripts run under: the system's sh, and busybox's (the agent image's) when it is installed,
// with only its applets on PATH.
function busyboxBin(): string | null {
  const which = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' });
  if (which.status !== 0) return null;
  const bin = mkdtempSync(join(tmpdir(), 'busybox-bin-'));
  execFileSync(which.stdout.trim(), ['--install', '-s', bin]);
  return existsSync(join(bin, 'sh')) ? bin : null;
}
const bb = busyboxBin();
const shells: Array<{ name: string; sh: string; PATH: string }> = [{ name: 'sh', sh: 'sh', PATH: process.env['PATH']! }, ...(bb ? [{ name: 'busybox sh', sh: join(bb, 'sh'), PATH: bb }] : [])];

for (const shell of shells) {
  describe(`the agent's scripts under ${shell.name}, against a temporary node`, () => {
    function node() {
      const root = mkdtempSync(join(tmpdir(), 'agent-'));
      const M = join(root, 'manifests');
      const B = join(root, 'selfhost-backup');
      mkdirSync(M, { mode: 0o700 });
      mkdirSync(B, { mode: 0o755 });
      const run = (op: keyof typeof AGENT_OPS, F: string, content?: string, prefix = '') => spawnSync(shell.sh, ['-c', prefix + agentScript(op)], {
        env: { PATH: shell.PATH, M, B, F, ...(content !== undefined ? { CONTENT: Buffer.from(content).toString('base64') } : {}) }, encoding: 'utf8',
      });
      const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
      return { M, B, run, mode, files: (d: string) => readdirSync(d).sort() };
    }

    it('write: a new manifest gets 0600, a rewritten one keeps the mode of the file it replaces, no dotfile left', () => {
      const n = node();
      assert.equal(n.run('write', 'kube-apiserver.yaml', 'kind: Pod\n').status, 0);
      assert.equal(readFileSync(join(n.M, 'kube-apiserver.yaml'), 'utf8'), 'kind: Pod\n');
      assert.equal(n.mode(join(n.M, 'kube-apiserver.yaml')), '600');
      writeFileSync(join(n.M, 'etcd.yaml'), 'old\n');
      chmodSync(join(n.M, 'etcd.yaml'), 0o640);
      assert.equal(n.run('write', 'etcd.yaml', 'new\n').status, 0);
      assert.equal(n.mode(join(n.M, 'etcd.yaml')), '640');
      assert.equal(readFileSync(join(n.M, 'etcd.yaml'), 'utf8'), 'new\n');
      assert.deepEqual(n.files(n.M), ['etcd.yaml', 'kube-apiserver.yaml']);
    });

    it('write that fails half-way (a file size limit, as a full disk) leaves the original as it was and no dotfile', () => {
      const n = node();
      writeFileSync(join(n.M, 'kube-apiserver.yaml'), 'original\n', { mode: 0o600 });
      const r = n.run('write', 'kube-apiserver.yaml', 'x'.repeat(64 * 1024), 'ulimit -f 8; ');
      assert.equal(r.status, 5, r.stderr);
      assert.match(r.stderr, /cannot write kube-apiserver\.yaml \(disk full\?\); the file on the node is as it was/);
      assert.equal(readFileSync(join(n.M, 'kube-apiserver.yaml'), 'utf8'), 'original\n');
      assert.deepEqual(n.files(n.M), ['kube-apiserver.yaml']);
    });

    it('backup: a 0600 copy in a 0700 directory, the first copy kept, exit 3 when there is nothing to copy', () => {
      const n = node();
      writeFileSync(join(n.M, 'kube-scheduler.yaml'), 'original\n', { mode: 0o644 });
      const r = n.run('backup', 'kube-scheduler.yaml');
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'original\n');
      assert.equal(n.mode(join(n.B, 'kube-scheduler.yaml')), '600');
      assert.equal(n.mode(n.B), '700');
      writeFileSync(join(n.M, 'kube-scheduler.yaml'), 'edited\n');
      assert.equal(n.run('backup', 'kube-scheduler.yaml').stdout, 'original\n');
      assert.equal(n.run('backup', 'kube-controller-manager.yaml').status, 3);
      assert.deepEqual(n.files(n.B), ['kube-scheduler.yaml']);
    });

    it('backup that fails half-way leaves no dotfile and no backup', () => {
      const n = node();
      writeFileSync(join(n.M, 'kube-apiserver.yaml'), 'x'.repeat(64 * 1024), { mode: 0o600 });
      const r = n.run('backup', 'kube-apiserver.yaml', undefined, 'ulimit -f 8; ');
      assert.equal(r.status, 5, r.stderr);
      assert.deepEqual(n.files(n.B), []);
    });

    it('writeBackup: 0600; read and readBackup print the file or exit 3', () => {
      const n = node();
      assert.equal(n.run('writeBackup', 'kube-apiserver.checkpoint.yaml', 'kind: Pod\n').status, 0);
      assert.equal(n.mode(join(n.B, 'kube-apiserver.checkpoint.yaml')), '600');
      assert.equal(n.run('readBackup', 'kube-apiserver.checkpoint.yaml').stdout, 'kind: Pod\n');
      assert.equal(n.run('readBackup', 'nothing.yaml').status, 3);
      assert.equal(n.run('read', 'nothing.yaml').status, 3);
    });

    it('remove refuses a manifest without a backup; removeOwned refuses files not of this tool', () => {
      const n = node();
      writeFileSync(join(n.M, 'kube-scheduler.yaml'), 'a\n');
      writeFileSync(join(n.M, 'etcd.yaml'), 'e\n');
      const refused = n.run('remove', 'kube-scheduler.yaml');
      assert.equal(refused.status, 4);
      assert.match(refused.stderr, /no backup of kube-scheduler\.yaml on this node; refusing to remove it/);
      writeFileSync(join(n.B, 'kube-scheduler.yaml'), 'a\n');
      assert.equal(n.run('remove', 'kube-scheduler.yaml').status, 0);
      assert.equal(n.run('removeOwned', 'etcd.yaml').status, 4);
      assert.deepEqual(n.files(n.M), ['etcd.yaml']);
    });

    it('steer: keeps the node\'s tcp_migrate_req once, sets 1, runs the checked helper; none detaches and puts the value back', () => {
      const n = node();
      const H = join(n.B, '..', 'h'), W = join(n.B, '..', 'w'), S = join(n.B, '..', 'tcp_migrate_req');
      mkdirSync(H); mkdirSync(W);
      const fake = `#!${shell.sh === 'sh' ? '/bin/sh' : shell.sh}\necho "helper $*" >> "${join(W, 'calls')}"\n[ "$7" = none ] && echo '{"to":"none","listenerPids":[1],"wasAttached":true}' || echo '{"to":"x"}'\n`;
      writeFileSync(join(H, 'node-helper.gz'), execFileSync('gzip', ['-c'], { input: fake }));
      const sha = execFileSync('sha256sum', { input: fake, encoding: 'utf8' }).split(' ')[0]!;
      writeFileSync(S, '0\n');
      // The node's sockets: /proc/net/tcp6 as the kernel writes it, the old listener alone at first (6443 = 0x192B).
      const NET = join(n.B, '..', 'net');
      mkdirSync(NET);
      const listener = (sl: number) => `   ${sl}: 00000000000000000000000000000000:192B 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 ${1000 + sl} 1 0000000000000000 100 0 0 10 0\n`;
      const header = '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
      writeFileSync(join(NET, 'tcp6'), header + listener(0));
      writeFileSync(join(NET, 'tcp'), '  sl  local_address rem_address   st\n   0: 0100007F:192B 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 0 1\n');
      // wget: what the new process answers at the probe address.
      const bin = join(n.B, '..', 'bin');
      mkdirSync(bin);
      writeFileSync(join(bin, 'wget'), `#!/bin/sh\necho "wget $*" >> "${join(W, 'calls')}"\necho ok\n`);
      chmodSync(join(bin, 'wget'), 0o755);
      const steer = (TO: string, MIGRATE: string, SHA = sha, WAIT = '30') => spawnSync(shell.sh, ['-c', agentScript('steer')], { env: { PATH: `${shell.PATH}:/usr/bin:/bin`, WGET: join(bin, 'wget'), B: n.B, H, W, S, NET, F: 'kube-apiserver', SHA, PORT: '6443', TO, MIGRATE, PROBE: '127.100.0.1', WAIT }, encoding: 'utf8' });
      let r = steer('old', '1');
      assert.equal(r.status, 0, r.stderr);
      assert.equal(readFileSync(S, 'utf8').trim(), '1');
      assert.equal(readFileSync(join(n.B, 'tcp_migrate_req.orig'), 'utf8').trim(), '0');
      r = steer('new', '1', sha, '1');
      assert.equal(r.status, 3, 'the old listener alone: never steered to a new one');
      assert.match(r.stderr, /did not answer \/readyz at 127\.100\.0\.1:6443 beside the old one within 1 s/);
      writeFileSync(join(NET, 'tcp6'), header + listener(0) + listener(1));
      r = steer('new', '1');
      assert.equal(r.status, 0, r.stderr);
      assert.equal(readFileSync(join(n.B, 'tcp_migrate_req.orig'), 'utf8').trim(), '0', 'a second set keeps the first value, not its own 1');
      r = steer('none', '1');
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /"wasAttached":true/);
      assert.equal(readFileSync(S, 'utf8').trim(), '0', 'put back');
      assert.equal(existsSync(join(n.B, 'tcp_migrate_req.orig')), false);
      assert.deepEqual(readFileSync(join(W, 'calls'), 'utf8').trim().split('\n'), [
        'helper steer --port 6443 --exe kube-apiserver --to old --probe 127.100.0.1',
        // the wait that gave up (one listener, so no wget yet) detached the program: the hash, as unsteered
        'helper steer --port 6443 --exe kube-apiserver --to none',
        'wget -q -O - --no-check-certificate https://127.100.0.1:6443/readyz',
        'helper steer --port 6443 --exe kube-apiserver --to new --probe 127.100.0.1',
        'helper steer --port 6443 --exe kube-apiserver --to none',
      ]);
      writeFileSync(S, '0\n');
      r = steer('old', '0');
      assert.equal(readFileSync(S, 'utf8').trim(), '0', 'MIGRATE=0 leaves it');
      assert.equal(existsSync(join(n.B, 'tcp_migrate_req.orig')), false);
      r = steer('old', '1', '0'.repeat(64));
      assert.equal(r.status, 1);
      assert.match(r.stderr, /does not match its checksum/);
      assert.equal(readFileSync(S, 'utf8').trim(), '0', 'a helper that fails its check changes nothing');
    });

    it('removeBackups empties the backup directory, dotfiles too, and leaves the directory itself', () => {
      const n = node();
      for (const f of ['kube-apiserver.checkpoint.yaml', 'cluster-uid', '.kube-apiserver.yaml.tmp', '..odd']) writeFileSync(join(n.B, f), 'x');
      mkdirSync(join(n.B, 'sub'));
      assert.equal(n.run('removeBackups', 'selfhost-backup').status, 0);
      assert.deepEqual(n.files(n.B), []);
      assert.ok(existsSync(n.B));
      assert.equal(n.run('removeBackups', 'selfhost-backup').status, 0, 'an empty directory is no error');
    });
  });
}

describe('node sockets through the node helper', () => {
  const helper = { archs: ['amd64'] as const, binary: () => ({ gz: Buffer.from('gz'), sha256: 'f'.repeat(64) }) };
  const world = (exitCode: number, log: string) => {
    const kube = fakeKube();
    const create = kube.create.bind(kube);
    const seen: Obj[] = [];
    kube.create = async (p, body, o) => { seen.push(body); return create(p, body.kind === 'Pod' ? { ...body, status: { phase: exitCode === 0 ? 'Succeeded' : 'Failed', containerStatuses: [{ state: { terminated: { exitCode } } }] } } : body, o); };
    kube.raw = async () => ({ status: 200, body: log });
    const sockets = agentNodeSockets({ kube, wait: { clock: fakeClock(), emit: () => {}, timeoutMs: 10_000 }, image: 'busybox:x', helper });
    return { kube, sockets, seen };
  };

  it('hands the helper over in a ConfigMap with its checksum, for the call only, and reads its answer', async () => {
    const w = world(0, '[{"pid":42,"fd":7,"inode":"1","alreadyShared":false}]\n');
    assert.deepEqual(await w.sockets.sharePort('cp-1', DIRS, 'amd64', 'kube-apiserver', 6443), { done: true, already: false });
    const cm = w.seen.find((o) => o.kind === 'ConfigMap') as Obj & { binaryData: Record<string, string>; metadata: { annotations: Record<string, string> } };
    assert.equal(cm.metadata.name, 'kubectl-selfhost-node-helper-amd64');
    assert.equal(Buffer.from(cm.binaryData['node-helper.gz']!, 'base64').toString(), 'gz');
    const pod = w.seen.find((o) => o.kind === 'Pod') as Obj & { spec: { containers: Array<{ env: Array<{ name: string; value: string }> }> } };
    assert.deepEqual(Object.fromEntries(pod.spec.containers[0]!.env.map((e) => [e.name, e.value])), { SHA: 'f'.repeat(64), PORT: '6443', F: 'kube-apiserver' });
    assert.ok(w.kube.calls.includes(`DELETE ${paths.configMap('kube-system', 'kubectl-selfhost-node-helper-amd64')}`), 'the ConfigMap goes after the call');
  });

  it('replaces a helper ConfigMap a killed run left (another binary) with this run\'s, and the pod checks this run\'s checksum', async () => {
    const w = world(0, '[{"pid":42,"fd":7,"inode":"1","alreadyShared":true}]\n');
    const path = paths.configMap('kube-system', 'kubectl-selfhost-node-helper-amd64');
    w.kube.put(paths.configMaps('kube-system'), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kubectl-selfhost-node-helper-amd64', namespace: 'kube-system', resourceVersion: '7', annotations: { 'kubectl-selfhost.dev/sha256': '0'.repeat(64) } }, binaryData: { 'node-helper.gz': Buffer.from('old').toString('base64') } } as Obj);
    const replaced: Obj[] = [];
    const replace = w.kube.replace.bind(w.kube);
    w.kube.replace = async (p, body, o) => { if (p === path) replaced.push(structuredClone(body)); return replace(p, body, o); };
    assert.deepEqual(await w.sockets.sharePort('cp-1', DIRS, 'amd64', 'kube-apiserver', 6443), { done: true, already: true });
    assert.equal(replaced.length, 1, 'the one left was replaced');
    const cm = replaced[0] as Obj & { binaryData: Record<string, string>; metadata: { annotations: Record<string, string>; resourceVersion?: string } };
    assert.equal(Buffer.from(cm.binaryData['node-helper.gz']!, 'base64').toString(), 'gz');
    assert.equal(cm.metadata.annotations['kubectl-selfhost.dev/sha256'], 'f'.repeat(64));
    assert.equal(cm.metadata.resourceVersion, '7');
  });

  it('turns the helper\'s "cannot here" exits into a fallback with its reason, and any other failure into an error', async () => {
    for (const [code, why] of [[3, /^nothing to act on: node-helper: no kube-apiserver/], [4, /^the kernel lacks it: /], [5, /^not permitted: /]] as const) {
      const w = world(code, `node-helper: ${code === 3 ? 'no kube-apiserver process here listens on port 6443' : 'x'}\n`);
      const r = await w.sockets.sharePort('cp-1', DIRS, 'amd64', 'kube-apiserver', 6443);
      assert.equal(r.done, false);
      assert.match((r as { why: string }).why, why);
      assert.ok(w.kube.calls.some((c) => c.startsWith('DELETE') && c.includes('node-helper')), `exit ${code}: the ConfigMap still goes`);
    }
    const s = await world(4, 'node-helper: setsockopt SO_ATTACH_REUSEPORT_CBPF: the kernel does not have it\n').sockets.steer('cp-1', DIRS, 'amd64', 'kube-apiserver', 6443, 'old', true);
    assert.deepEqual(s, { done: false, why: 'the kernel lacks it: node-helper: setsockopt SO_ATTACH_REUSEPORT_CBPF: the kernel does not have it' });
    const w = world(1, 'node-helper: the node helper does not match its checksum; nothing was changed\n');
    await assert.rejects(w.sockets.sharePort('cp-1', DIRS, 'amd64', 'kube-apiserver', 6443), /failed to sharePort kube-apiserver \(exit 1\): .*does not match its checksum/);
    assert.ok(w.kube.calls.some((c) => c.startsWith('DELETE') && c.includes('node-helper')));
  });

  it('steer: passes where to and whether to set tcp_migrate_req, and reads whether a program was attached', async () => {
    const w = world(0, '{"to":"none","listenerPids":[42],"wasAttached":true}\n');
    assert.deepEqual(await w.sockets.steer('cp-1', DIRS, 'amd64', 'kube-apiserver', 6443, 'none', true), { done: true, wasAttached: true });
    const pod = w.seen.find((o) => o.kind === 'Pod') as Obj & { spec: { containers: Array<{ env: Array<{ name: string; value: string }> }> } };
    assert.deepEqual(Object.fromEntries(pod.spec.containers[0]!.env.map((e) => [e.name, e.value])), { SHA: 'f'.repeat(64), PORT: '6443', TO: 'none', MIGRATE: '1', PROBE: '127.100.0.1', WAIT: '10', F: 'kube-apiserver' }, 'the wait on the node within the run\'s own (10 s here, the least)');
    assert.ok(w.kube.calls.includes(`DELETE ${paths.configMap('kube-system', 'kubectl-selfhost-node-helper-amd64')}`));
  });
});
