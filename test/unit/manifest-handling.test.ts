// The manifest defects of issue 11, each through the public entry points (readManifestsDir, buildPlan,
// toDaemonSet), so that every test here failed on the code before the fix.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PIVOT_ORDER } from '../../src/core/components.ts';
import type { Container, Pod } from '../../src/core/k8s-types.ts';
import { buildPlan } from '../../src/core/plan.ts';
import { toDaemonSet } from '../../src/core/transform/daemonset.ts';
import { parseAll, toYaml } from '../../src/core/yaml.ts';
import { readManifestsDir, readStaticPod } from '../../src/sources/manifests-dir.ts';
import { FIXTURES, REPO } from './helpers.ts';

const NOW = new Date('2026-01-02T03:04:05Z');
const KUBEADM = join(FIXTURES, 'kubeadm', 'v1.34.4');
const CORPUS = join(FIXTURES, 'corpus');
const ALL = { components: [...PIVOT_ORDER] };

/** A scratch copy of kubeadm v1.34.4's manifests, changed by `edit` (file name -> pod, or null to delete). */
function kubeadmDir(edit: (pods: Map<string, Pod | string | null>) => void = () => {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'selfhost-manifests-'));
  const pods = new Map<string, Pod | string | null>();
  for (const f of ['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml']) {
    pods.set(f, parseAll(readFileSync(join(KUBEADM, f), 'utf8'))[0] as Pod);
  }
  edit(pods);
  for (const [f, p] of pods) if (p !== null) writeFileSync(join(dir, f), typeof p === 'string' ? p : toYaml(p));
  return dir;
}
const container = (p: Pod | string | null | undefined) => (p as Pod).spec.containers[0]!;
const plan = (dir: string) => buildPlan(readManifestsDir(dir), ALL, NOW);

describe('foreign static pods are left alone, with a note', () => {
  it('kube-vip beside the kubeadm manifests: the plan goes on and names it', () => {
    const p = plan(join(FIXTURES, 'bad', 'foreign'));
    assert.deepEqual(p.components.map((c) => c.action), ['pivot', 'pivot', 'pivot']);
    assert.ok(p.warnings.some((w) => w.code === 'ForeignStaticPod' && w.message.includes('kube-vip.yaml')));
  });
});

describe('supported Kubernetes versions', () => {
  it('kubeadm 1.16 manifests are refused, with the reason, before any step', () => {
    const p = plan(join(CORPUS, 'kubeadm-v1.16'));
    for (const c of p.components) {
      assert.equal(c.action, 'blocked', c.component);
      assert.match(c.reason, /runs Kubernetes 1\.16; kubectl-selfhost needs 1\.25 or newer \(it relies on --permit-port-sharing \(1\.19\), .*\): upgrade the cluster first/);
    }
    assert.deepEqual(p.steps, []);
  });
});

describe('flags go where the component keeps them, on its own container only', () => {
  it('a container with args and no command keeps its entrypoint', () => {
    const dir = kubeadmDir((pods) => {
      const c = container(pods.get('kube-scheduler.yaml'));
      c.args = c.command!.slice(1);
      delete c.command;
    });
    const out = toDaemonSet('kube-scheduler', readStaticPod(dir, 'kube-scheduler.yaml').pod).spec.template.spec.containers[0]!;
    assert.equal(out.command, undefined);
    assert.ok(out.args!.includes('--permit-port-sharing=true'));
  });

  it('a sidecar (a KMS plugin) gets no flag and no HOST_IP', () => {
    const sidecar: Container = { name: 'kms-plugin', image: 'example.com/kms:1', args: ['--listen=unix:///kms/socket.sock'] };
    const dir = kubeadmDir((pods) => (pods.get('kube-apiserver.yaml') as Pod).spec.containers.push(sidecar));
    const out = toDaemonSet('kube-apiserver', readStaticPod(dir, 'kube-apiserver.yaml').pod).spec.template.spec.containers;
    assert.deepEqual(out[1], sidecar);
    assert.ok(out[0]!.command!.includes('--permit-port-sharing=true'));
  });
});

describe('nothing in the template names one node', () => {
  it('--bind-address=<node IP> and the probe hosts become node-neutral', () => {
    const dir = kubeadmDir((pods) => {
      const c = container(pods.get('kube-controller-manager.yaml'));
      c.command = c.command!.map((a) => (a.startsWith('--bind-address=') ? '--bind-address=10.213.0.2' : a));
      for (const probe of [c.livenessProbe, c.startupProbe]) probe!.httpGet!.host = '10.213.0.2';
    });
    const ds = toDaemonSet('kube-controller-manager', readStaticPod(dir, 'kube-controller-manager.yaml').pod);
    assert.equal(JSON.stringify(ds).includes('10.213.0.2'), false);
    assert.ok(ds.spec.template.spec.containers[0]!.command!.includes('--bind-address=$(HOST_IP)'));
  });

  it('--advertise-address given in args is rewritten there', () => {
    const dir = kubeadmDir((pods) => {
      const c = container(pods.get('kube-apiserver.yaml'));
      c.args = c.command!.slice(1);
      c.command = ['kube-apiserver'];
    });
    const out = toDaemonSet('kube-apiserver', readStaticPod(dir, 'kube-apiserver.yaml').pod).spec.template.spec.containers[0]!;
    assert.deepEqual(out.command, ['kube-apiserver']);
    assert.ok(out.args!.includes('--advertise-address=$(HOST_IP)'));
    assert.equal(JSON.stringify(out).includes('10.213.0.2'), false);
  });
});

describe('pod-level fields', () => {
  it('the apiserver keeps the static pod\'s DNS behaviour (no ClusterFirstWithHostNet)', () => {
    const ds = toDaemonSet('kube-apiserver', readStaticPod(KUBEADM, 'kube-apiserver.yaml').pod);
    assert.equal(ds.spec.template.spec.dnsPolicy, undefined);
  });

  it('system-node-critical is added when the manifest names no priority class', () => {
    const dir = kubeadmDir((pods) => delete (pods.get('kube-scheduler.yaml') as Pod).spec['priorityClassName']);
    const ds = toDaemonSet('kube-scheduler', readStaticPod(dir, 'kube-scheduler.yaml').pod);
    assert.equal(ds.spec.template.spec['priorityClassName'], 'system-node-critical');
  });
});

describe('the directory is read as the kubelet reads it', () => {
  it('a subdirectory and a README are skipped and noted', () => {
    const dir = kubeadmDir((pods) => pods.set('README', '# manifests\nThese are the control-plane pods.\n'));
    mkdirSync(join(dir, 'old'));
    copyFileSync(join(KUBEADM, 'kube-apiserver.yaml'), join(dir, 'old', 'kube-apiserver.yaml'));
    const p = plan(dir);
    assert.deepEqual(p.components.map((c) => c.action), ['pivot', 'pivot', 'pivot']);
    assert.ok(p.warnings.some((w) => w.message.includes('old is left alone')));
    assert.ok(p.warnings.some((w) => w.message.includes('README is left alone')));
  });

  it('dotfiles are skipped without a note, as the kubelet skips them (an editor\'s copy of a manifest is no second apiserver)', () => {
    const dir = kubeadmDir((pods) => {
      pods.set('.kube-apiserver.yaml.swp', pods.get('kube-apiserver.yaml')!); // read, it would be a second kube-apiserver
      pods.set('.notes', 'not: [a pod\n'); // read, it would be invalid YAML
    });
    const p = plan(dir);
    assert.deepEqual(p.components.map((c) => c.action), ['pivot', 'pivot', 'pivot']);
    assert.deepEqual(readManifestsDir(dir).nodes[0]!.staticPods.map((s) => s.file), ['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml']);
    assert.deepEqual(p.warnings.filter((w) => /\.kube-apiserver|\.notes/.test(w.message)), []);
  });

  it('a FIFO is skipped, not read (reading it would hang)', () => {
    const dir = kubeadmDir();
    assert.equal(spawnSync('mkfifo', [join(dir, 'pipe')]).status, 0);
    const script = `import { readManifestsDir } from ${JSON.stringify(join(REPO, 'src/sources/manifests-dir.ts'))};
      console.log(readManifestsDir(${JSON.stringify(dir)}).nodes[0].staticPods.length)`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000, encoding: 'utf8' });
    assert.equal(r.signal, null, 'did not hang');
    assert.equal(r.stdout.trim(), '4');
  });

  for (const [what, edit, message] of [
    ['two files for one component', (pods: Map<string, Pod | string | null>) => pods.set('kube-apiserver-old.yaml', pods.get('kube-apiserver.yaml')!),
      /kube-apiserver-old\.yaml and kube-apiserver\.yaml are both kube-apiserver/],
    ['a label that contradicts the file name', (pods: Map<string, Pod | string | null>) => ((pods.get('kube-apiserver.yaml') as Pod).metadata.labels!['component'] = 'kube-scheduler'),
      /kube-apiserver\.yaml holds kube-scheduler .*not kube-apiserver/],
    ['a pod without containers', (pods: Map<string, Pod | string | null>) => ((pods.get('kube-scheduler.yaml') as Pod).spec.containers = []),
      /kube-scheduler\.yaml: the pod has no containers/],
    ['an unnamed volume', (pods: Map<string, Pod | string | null>) => delete ((pods.get('kube-apiserver.yaml') as Pod).spec.volumes![0] as { name?: string }).name,
      /kube-apiserver\.yaml: volume #1 has no name/],
    ['a mount naming no volume', (pods: Map<string, Pod | string | null>) => ((container(pods.get('kube-scheduler.yaml'))['volumeMounts'] as Array<{ name: string }>)[0]!.name = 'kubeconfg'),
      /kube-scheduler\.yaml: container "kube-scheduler" mounts volume "kubeconfg", which the pod does not define/],
  ] as const) {
    it(`refuses ${what} with one line naming the file`, () => {
      const dir = kubeadmDir(edit);
      assert.throws(() => readManifestsDir(dir), (err: Error) => {
        assert.match(err.message, message);
        assert.equal(err.message.includes('\n'), false);
        return true;
      });
    });
  }
});
