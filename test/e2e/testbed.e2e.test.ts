// End-to-end checks of the test bed itself (scripts/testbed/testbed.sh): a real single-node kubeadm cluster.
// Assumes `bash scripts/testbed/testbed.sh up` has run (npm run test:e2e does that first). Uses kubectl through
// child_process with the kubeconfig `testbed.sh kubeconfig` prints. Every wait is bounded and, on timeout, fails
// with what it saw last.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';

const TESTBED = `${import.meta.dirname}/../../scripts/testbed/testbed.sh`;
const NODE = 'selfhost-cp';
const STATIC_PODS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];
const BUSYBOX = 'docker.io/library/busybox:1.35.0';
const DEPLOYMENT = 'testbed-e2e';
const cacheDir = mkdtempSync('/tmp/testbed-e2e-kubectl-');

interface Result { status: number | null; stdout: string; stderr: string }

function run(cmd: string, args: string[], timeoutMs: number, input?: string): Result {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, input });
  if (r.error) return { status: null, stdout: r.stdout ?? '', stderr: `${r.error.message}\n${r.stderr ?? ''}` };
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function testbed(args: string[], timeoutMs = 60_000): Result {
  return run('bash', [TESTBED, ...args], timeoutMs);
}

const kubeconfig = testbed(['kubeconfig']).stdout.trim();

function kubectl(args: string[], input?: string): Result {
  return run('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, '--request-timeout=10s', ...args], 30_000, input);
}

function kubectlJson<T>(args: string[]): { value?: T; seen: string } {
  const r = kubectl([...args, '-o', 'json']);
  if (r.status !== 0) return { seen: `kubectl ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}` };
  return { value: JSON.parse(r.stdout) as T, seen: r.stdout };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// Polls check() every second until it reports ok; fails after timeoutMs with the last thing it saw.
async function waitFor(what: string, timeoutMs: number, check: () => { ok: boolean; seen: string }): Promise<void> {
  const start = Date.now();
  let seen = '(nothing yet)';
  for (;;) {
    const r = check();
    if (r.ok) return;
    seen = r.seen;
    if (Date.now() - start >= timeoutMs) {
      assert.fail(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${what}; last seen:\n${seen}`);
    }
    await sleep(1000);
  }
}

interface Condition { type: string; status: string }
interface ContainerStatus { name: string; ready: boolean; restartCount: number; state?: { running?: { startedAt: string } } }
interface Pod {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { nodeName?: string };
  status: { phase?: string; podIP?: string; conditions?: Condition[]; containerStatuses?: ContainerStatus[] };
}
interface Node { status: { conditions?: Condition[]; addresses?: Array<{ type: string; address: string }> } }

function nodeReady(): { ok: boolean; seen: string } {
  const { value, seen } = kubectlJson<Node>(['get', 'node', NODE]);
  if (!value) return { ok: false, seen };
  const ready = value.status.conditions?.find((c) => c.type === 'Ready');
  return { ok: ready?.status === 'True', seen: `node ${NODE} conditions: ${JSON.stringify(value.status.conditions)}` };
}

function readyz(): { ok: boolean; seen: string } {
  const r = kubectl(['get', '--raw', '/readyz']);
  return { ok: r.status === 0 && r.stdout.trim() === 'ok', seen: `readyz exit ${r.status}: ${r.stdout.trim()} ${r.stderr.trim()}` };
}

// All four mirror pods Running with a ready container; if sinceMs is given, the container started at or after it.
function staticPods(sinceMs = 0): { ok: boolean; seen: string } {
  const lines: string[] = [];
  let ok = true;
  for (const c of STATIC_PODS) {
    const name = `${c}-${NODE}`;
    const { value, seen } = kubectlJson<Pod>(['-n', 'kube-system', 'get', 'pod', name]);
    if (!value) {
      ok = false;
      lines.push(`${name}: ${seen}`);
      continue;
    }
    const cs = value.status.containerStatuses?.[0];
    const started = cs?.state?.running?.startedAt;
    const mirror = value.metadata.annotations?.['kubernetes.io/config.mirror'] !== undefined;
    const fresh = started !== undefined && Date.parse(started) >= sinceMs;
    if (!mirror || value.status.phase !== 'Running' || cs?.ready !== true || !fresh) ok = false;
    lines.push(`${name}: mirror=${mirror} phase=${value.status.phase} ready=${cs?.ready} startedAt=${started} restarts=${cs?.restartCount}`);
  }
  return { ok, seen: lines.join('\n') };
}

function bedPid(name: string): string {
  try {
    return readFileSync(`/run/selfhost-bed/${name}.pid`, 'utf8').trim();
  } catch {
    return '(none)';
  }
}

after(() => {
  kubectl(['delete', 'deployment', DEPLOYMENT, '--ignore-not-found', '--wait=false']);
  rmSync(cacheDir, { recursive: true, force: true });
});

test('the bed is up: testbed.sh kubeconfig names an existing kubeconfig', () => {
  assert.match(kubeconfig, /^\/.+/, 'testbed.sh kubeconfig printed no path');
  assert.ok(readFileSync(kubeconfig, 'utf8').includes('server: https://'), `${kubeconfig} is not a kubeconfig`);
});

test(`node ${NODE} is Ready`, { timeout: 200_000 }, async () => {
  await waitFor(`node ${NODE} Ready`, 180_000, nodeReady);
});

test('the four control-plane static pods run as mirror pods in kube-system', { timeout: 200_000 }, async () => {
  await waitFor('etcd, kube-apiserver, kube-controller-manager, kube-scheduler mirror pods Running and ready', 180_000, () => staticPods());
});

test('/readyz is ok', { timeout: 100_000 }, async () => {
  await waitFor('/readyz ok', 90_000, readyz);
});

test('a busybox Deployment tolerating the control-plane taint is scheduled and runs', { timeout: 200_000 }, async () => {
  const manifest = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${DEPLOYMENT}, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: ${DEPLOYMENT}}}
  template:
    metadata: {labels: {app: ${DEPLOYMENT}}}
    spec:
      terminationGracePeriodSeconds: 1
      tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]
      containers:
      - name: busybox
        image: ${BUSYBOX}
        imagePullPolicy: Never
        command: [sh, -c, "echo testbed-e2e says hello; trap 'exit 0' TERM; sleep 3600 & wait"]
`;
  const applied = kubectl(['apply', '-f', '-'], manifest);
  assert.equal(applied.status, 0, `kubectl apply failed: ${applied.stderr}`);
  let podName = '';
  await waitFor(`a Running, ready pod of Deployment ${DEPLOYMENT} on ${NODE}`, 180_000, () => {
    const { value, seen } = kubectlJson<{ items: Pod[] }>(['-n', 'default', 'get', 'pods', '-l', `app=${DEPLOYMENT}`]);
    if (!value) return { ok: false, seen };
    const pod = value.items.find((p) => p.status.phase === 'Running' && p.status.containerStatuses?.[0]?.ready === true);
    if (pod) podName = pod.metadata.name;
    const summary = value.items.map((p) =>
      `${p.metadata.name}: node=${p.spec.nodeName} phase=${p.status.phase} ip=${p.status.podIP} conditions=${JSON.stringify(p.status.conditions)}`);
    return { ok: pod !== undefined && pod.spec.nodeName === NODE, seen: summary.join('\n') || 'no pods' };
  });
  const logs = kubectl(['-n', 'default', 'logs', podName]);
  assert.equal(logs.status, 0, `kubectl logs failed: ${logs.stderr}`);
  assert.match(logs.stdout, /testbed-e2e says hello/);
  const deleted = kubectl(['-n', 'default', 'delete', 'deployment', DEPLOYMENT, '--cascade=foreground', '--wait=true']);
  assert.equal(deleted.status, 0, `kubectl delete failed: ${deleted.stderr}`);
});

test('after testbed.sh reboot the static pods and /readyz come back by themselves', { timeout: 720_000 }, async () => {
  const before = { containerd: bedPid('containerd'), kubelet: bedPid('kubelet') };
  const rebootStart = Math.floor(Date.now() / 1000) * 1000; // startedAt has whole seconds
  const r = testbed(['reboot', '--no-wait'], 180_000);
  assert.equal(r.status, 0, `testbed.sh reboot --no-wait failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  await waitFor('/readyz ok after the reboot', 300_000, readyz);
  await waitFor('all four static pods running again with containers started after the reboot', 300_000, () => staticPods(rebootStart));
  await waitFor(`node ${NODE} Ready after the reboot`, 120_000, nodeReady);
  const now = { containerd: bedPid('containerd'), kubelet: bedPid('kubelet') };
  assert.notEqual(now.containerd, before.containerd, 'containerd was not restarted by the reboot');
  assert.notEqual(now.kubelet, before.kubelet, 'the kubelet was not restarted by the reboot');
});
