import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ACTIVE_CHECKPOINT_FILE, checkpointerPod, checkpointerScript, checkpointPod, INACTIVE_CHECKPOINT_FILE } from '../../src/core/checkpoint.ts';
import { readFlag } from '../../src/core/container.ts';
import { toDaemonSet } from '../../src/core/transform/daemonset.ts';
import { readStaticPod } from '../../src/sources/manifests-dir.ts';
import { FIXTURES } from './helpers.ts';

const template = toDaemonSet('kube-apiserver', readStaticPod(join(FIXTURES, 'kubeadm', 'v1.34.4'), 'kube-apiserver.yaml').pod).spec.template;

describe('apiserver checkpoint', () => {
  it('is the DaemonSet template as a static pod for one node, with its address made literal', () => {
    const pod = checkpointPod(template, { name: 'cp-1', address: '10.0.0.7' }, 3);
    const c = pod.spec.containers[0]!;
    assert.equal(readFlag(c, '--advertise-address'), '10.0.0.7');
    assert.equal(readFlag(c, '--permit-port-sharing'), 'true', 'it shares the port with the DaemonSet pod');
    assert.equal(c.env, undefined, 'no downward API in a static pod');
    assert.equal(pod.metadata.annotations?.['kubectl-selfhost.dev/daemonset-generation'], '3');
    assert.equal(pod.metadata.labels?.['component'], 'kube-apiserver-checkpoint', 'never mistaken for the kubeadm apiserver');
    assert.deepEqual(pod.spec.volumes, template.spec.volumes);
    assert.equal(JSON.stringify(pod).includes('BEGIN'), false, 'no key material, only paths');
  });

  it('writes the address into every flag that uses $(HOST_IP), and leaves a sidecar alone', () => {
    const t = structuredClone(template);
    const c = t.spec.containers[0]!;
    c.command = [...c.command!.filter((a) => !a.startsWith('--bind-address')), '--bind-address=$(HOST_IP)'];
    const sidecar = { name: 'kms', image: 'example.com/kms:1', args: ['--listen=/kms/socket.sock'], env: [{ name: 'HOST_IP', value: 'its own' }] };
    t.spec.containers.push(sidecar);
    const pod = checkpointPod(t, { name: 'cp-1', address: '10.0.0.7' }, 1);
    assert.equal(readFlag(pod.spec.containers[0]!, '--bind-address'), '10.0.0.7');
    assert.equal(JSON.stringify(pod.spec.containers[0]).includes('$(HOST_IP)'), false);
    assert.deepEqual(pod.spec.containers[1], sidecar);
  });

  it('the checkpointer mounts the manifest directory and its own directory read-only, and has no credentials', () => {
    const pod = checkpointerPod('busybox:x', { manifests: '/etc/kubernetes/manifests', backup: '/etc/kubernetes/selfhost-backup' }, 6443);
    const c = pod.spec.containers[0]!;
    assert.deepEqual(c['volumeMounts'], [{ name: 'manifests', mountPath: '/m' }, { name: 'own', mountPath: '/b', readOnly: true }]);
    assert.equal(pod.spec['serviceAccountName'], undefined);
    assert.match(c.command![2]!, /:192B\$/);
  });
});

describe('the checkpointer script (run with sh against a fake /proc)', () => {
  const LISTEN = (port: string) => `   0: 00000000:${port} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0\n`;
  function world(listeners: number) {
    const root = mkdtempSync(join(tmpdir(), 'checkpointer-'));
    for (const d of ['m', 'b', 'proc/net']) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, 'b', INACTIVE_CHECKPOINT_FILE), 'kind: Pod\n');
    const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
    writeFileSync(join(root, 'proc/net/tcp'), header + LISTEN('0050') + LISTEN('192B').repeat(listeners));
    const run = (rounds: number) => execFileSync('sh', ['-c', checkpointerScript(6443)], { env: { PATH: process.env['PATH'], M: join(root, 'm'), B: join(root, 'b'), PROC: join(root, 'proc'), INTERVAL: '0', ROUNDS: String(rounds) }, encoding: 'utf8' });
    return { root, run, active: () => existsSync(join(root, 'm', ACTIVE_CHECKPOINT_FILE)), setListeners: (n: number) => writeFileSync(join(root, 'proc/net/tcp'), header + LISTEN('192B').repeat(n)) };
  }

  it('activates the checkpoint after three checks with nothing on the port, not before', () => {
    const w = world(0);
    w.run(2);
    assert.equal(w.active(), false);
    assert.match(w.run(3), /checkpoint activated/);
    assert.equal(w.active(), true);
  });

  it('leaves it inactive while an apiserver listens', () => {
    const w = world(1);
    w.run(5);
    assert.equal(w.active(), false);
  });

  it('retires an active checkpoint once a second apiserver listens beside it, and keeps it while alone', () => {
    const w = world(0);
    w.run(3);
    w.setListeners(1);
    w.run(3);
    assert.equal(w.active(), true, 'the checkpoint alone serves: it stays');
    w.setListeners(2);
    assert.match(w.run(1), /checkpoint deactivated/);
    assert.equal(w.active(), false);
  });
});

describe('the checkpointer watches the apiserver\'s own port, whatever --secure-port says', () => {
  const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
  /** A listening socket as /proc/net/tcp (IPv4) or tcp6 writes it: the port in upper-case hex after the address. */
  const listening = (port: number, v6 = false) => `   0: ${v6 ? '0'.repeat(32) : '00000000'}:${port.toString(16).toUpperCase().padStart(4, '0')} ${v6 ? '0'.repeat(32) : '00000000'}:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0\n`;
  function node(port: number) {
    const root = mkdtempSync(join(tmpdir(), 'checkpointer-port-'));
    for (const d of ['m', 'b', 'proc/net']) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, 'b', INACTIVE_CHECKPOINT_FILE), 'kind: Pod\n');
    const sockets = (tcp: string[], tcp6: string[] = []) => {
      writeFileSync(join(root, 'proc/net/tcp'), HEADER + tcp.join(''));
      writeFileSync(join(root, 'proc/net/tcp6'), HEADER + tcp6.join(''));
    };
    const run = (rounds: number) => execFileSync('sh', ['-c', checkpointerScript(port)], { env: { PATH: process.env['PATH'], M: join(root, 'm'), B: join(root, 'b'), PROC: join(root, 'proc'), INTERVAL: '0', ROUNDS: String(rounds) }, encoding: 'utf8' });
    return { sockets, run, active: () => existsSync(join(root, 'm', ACTIVE_CHECKPOINT_FILE)) };
  }

  for (const [port, other] of [[7443, 6443], [443, 6443], [8443, 443], [6443, 7443]] as const) {
    it(`apiserver on ${port}, something else on ${other}: the other port neither keeps the checkpoint inactive nor retires it`, () => {
      const n = node(port);
      n.sockets([listening(other), listening(other, true)]);
      n.run(3);
      assert.equal(n.active(), true, `nothing on ${port} for three checks: activated`);
      n.sockets([listening(port), listening(other), listening(other)]);
      n.run(2);
      assert.equal(n.active(), true, `one apiserver on ${port} (the checkpoint) and two listeners on ${other}: kept`);
      n.sockets([listening(port)], [listening(port, true)]);
      n.run(1);
      assert.equal(n.active(), false, `a second apiserver on ${port} (IPv6 here): retired`);
      n.run(5);
      assert.equal(n.active(), false, `an apiserver listens on ${port}: stays inactive`);
    });
  }
});

describe('the checkpointer pod, least privilege', () => {
  const dirs = { manifests: '/etc/kubernetes/manifests', backup: '/etc/kubernetes/selfhost-backup' };

  it('runs as root without capabilities, escalation or a writable root filesystem, with the image as given', () => {
    const image = `docker.io/library/busybox@sha256:${'0f'.repeat(32)}`;
    const pod = checkpointerPod(image, dirs, 6443);
    const c = pod.spec.containers[0]!;
    assert.equal(c.image, image);
    assert.deepEqual(c['securityContext'], {
      runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, allowPrivilegeEscalation: false, privileged: false,
      capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true, seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.deepEqual(pod.spec.volumes!.map((v) => v.hostPath!.path), [dirs.manifests, dirs.backup], 'nothing but its two directories');
  });

  it('its command, as the pod runs it, activates the checkpoint as a 0600 file whatever the inactive one\'s mode', () => {
    const root = mkdtempSync(join(tmpdir(), 'checkpointer-pod-'));
    for (const d of ['m', 'b', 'proc/net']) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, 'b', INACTIVE_CHECKPOINT_FILE), 'kind: Pod\n', { mode: 0o644 });
    writeFileSync(join(root, 'proc/net/tcp'), '  sl  local_address rem_address   st\n');
    const command = checkpointerPod('busybox:x', dirs, 6443).spec.containers[0]!.command!;
    execFileSync(command[0]!, command.slice(1), { env: { PATH: process.env['PATH'], M: join(root, 'm'), B: join(root, 'b'), PROC: join(root, 'proc'), INTERVAL: '0', ROUNDS: '3' } });
    assert.equal((statSync(join(root, 'm', ACTIVE_CHECKPOINT_FILE)).mode & 0o777).toString(8), '600');
  });
});
