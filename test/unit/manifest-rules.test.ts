// The small rules behind the manifest handling: which container is the component's, where its flags are, its
// serving port, the supported versions, node-specific values.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { mainContainer, readFlag, setFlag } from '../../src/core/container.ts';
import { checkConvertible } from '../../src/core/convertible.ts';
import type { Container, Pod } from '../../src/core/k8s-types.ts';
import { servingPort } from '../../src/core/serving-port.ts';
import { checkSupport, versionOfImage } from '../../src/core/support.ts';
import { nodeSpecificProblem } from '../../src/core/transform/node-neutral.ts';
import { readStaticPod } from '../../src/sources/manifests-dir.ts';
import { FIXTURES } from './helpers.ts';

const pod = (containers: Container[], component = 'kube-apiserver'): Pod => ({ metadata: { labels: { component } }, spec: { hostNetwork: true, containers } });
const kubeadm = (file: string, version = 'v1.34.4') => readStaticPod(join(FIXTURES, 'kubeadm', version), file).pod;

describe('the component\'s container', () => {
  it('is the one named like the component, else the one running its binary (hyperkube included)', () => {
    const sidecar = { name: 'kms', image: 'kms:1', command: ['/kms'] };
    assert.equal(mainContainer(pod([sidecar, { name: 'api', command: ['/usr/local/bin/kube-apiserver'] }]))?.name, 'api');
    assert.equal(mainContainer(pod([sidecar, { name: 'kube-apiserver', command: ['x'] }]))?.name, 'kube-apiserver');
    assert.equal(mainContainer(pod([sidecar, { name: 'hk', command: ['/hyperkube', 'apiserver'] }]))?.name, 'hk');
    assert.equal(mainContainer(pod([sidecar]), 'kube-apiserver'), undefined);
  });
});

describe('flags', () => {
  it('are read as the component reads them: command then args, last one wins, --f=v or --f v', () => {
    assert.equal(readFlag({ name: 'c', command: ['x', '--secure-port=1'], args: ['--secure-port=2'] }, '--secure-port'), '2');
    assert.equal(readFlag({ name: 'c', args: ['--secure-port', '7443', '--v=2'] }, '--secure-port'), '7443');
    assert.equal(readFlag({ name: 'c', args: ['--permit-port-sharing'] }, '--permit-port-sharing'), 'true');
    assert.equal(readFlag({ name: 'c', args: ['--secure-portal=1'] }, '--secure-port'), undefined);
  });

  it('are set where they are, else where the component keeps its flags', () => {
    assert.deepEqual(setFlag({ name: 'c', command: ['k', '--a=1'] }, '--b', '2'), { name: 'c', command: ['k', '--a=1', '--b=2'] });
    assert.deepEqual(setFlag({ name: 'c', command: ['k'], args: ['--a=1'] }, '--b', '2'), { name: 'c', command: ['k'], args: ['--a=1', '--b=2'] });
    assert.deepEqual(setFlag({ name: 'c' }, '--b', '2'), { name: 'c', args: ['--b=2'] });
    assert.deepEqual(setFlag({ name: 'c', command: ['k', '--b', '1'], args: ['--b=3'] }, '--b', '2'), { name: 'c', command: ['k', '--b', '2'], args: ['--b=2'] });
  });
});

describe('servingPort', () => {
  it('reads --secure-port from command or args, with the components\' defaults', () => {
    assert.equal(servingPort('kube-apiserver', kubeadm('kube-apiserver.yaml')), 6443);
    assert.equal(servingPort('kube-controller-manager', kubeadm('kube-controller-manager.yaml')), 10257);
    assert.equal(servingPort('kube-scheduler', kubeadm('kube-scheduler.yaml')), 10259);
    assert.equal(servingPort('kube-apiserver', readStaticPod(join(FIXTURES, 'corpus', 'secure-port-8443-v1.32'), 'kube-apiserver.yaml').pod), 8443);
    assert.equal(servingPort('kube-scheduler', pod([{ name: 'kube-scheduler', args: ['--secure-port', '20259'] }], 'kube-scheduler')), 20259);
    assert.ok(Number.isNaN(servingPort('kube-apiserver', pod([{ name: 'kube-apiserver', command: ['kube-apiserver', '--secure-port=https'] }]))));
  });
});

describe('supported versions', () => {
  it('reads the version from the image tag', () => {
    assert.deepEqual(versionOfImage('registry.k8s.io/kube-apiserver:v1.34.4'), { major: 1, minor: 34 });
    assert.deepEqual(versionOfImage('quay.io/coreos/hyperkube:v1.10.4_coreos.0'), { major: 1, minor: 10 });
    assert.deepEqual(versionOfImage('localhost:5000/kube-apiserver:1.28.1@sha256:abcd'), { major: 1, minor: 28 });
    assert.equal(versionOfImage('localhost:5000/kube-apiserver'), undefined);
    assert.equal(versionOfImage('example.com/kube-apiserver:latest'), undefined);
  });

  it('refuses below 1.25 and an image without a version, and notes a version newer than tested', () => {
    const at = (tag: string) => checkSupport('kube-apiserver', pod([{ name: 'kube-apiserver', image: `registry.k8s.io/kube-apiserver:${tag}` }]));
    assert.deepEqual(at('v1.25.0'), { ok: true, version: { major: 1, minor: 25 } });
    const old = at('v1.24.17');
    assert.ok(!old.ok && /1\.24; kubectl-selfhost needs 1\.25 or newer \(it relies on DaemonSet maxSurge \(GA in 1\.25\)\): upgrade the cluster first/.test(old.reason));
    const ancient = at('v1.18.0');
    assert.ok(!ancient.ok && ancient.reason.includes('--permit-port-sharing'));
    const untagged = at('latest');
    assert.ok(!untagged.ok && untagged.reason.includes('cannot tell the Kubernetes version'));
    const newer = at('v1.99.0');
    assert.ok(newer.ok && newer.note?.includes('newer than the newest tested'));
  });
});

describe('node-specific values', () => {
  it('refuses this node\'s address anywhere it cannot be made neutral, names the flag', () => {
    const api = kubeadm('kube-apiserver.yaml');
    assert.equal(nodeSpecificProblem('kube-apiserver', api), undefined);
    const c = api.spec.containers[0]!;
    c.command = c.command!.map((a) => (a.startsWith('--etcd-servers=') ? '--etcd-servers=https://10.213.0.2:2379' : a));
    assert.match(nodeSpecificProblem('kube-apiserver', api)!, /--etcd-servers=https:\/\/10\.213\.0\.2:2379 names this node's address 10\.213\.0\.2/);
    assert.match(checkConvertible('kube-apiserver', api).blocked!, /names this node's address/);
  });

  it('a shared address (another IP that merely starts alike) is not this node\'s', () => {
    const api = kubeadm('kube-apiserver.yaml');
    api.spec.containers[0]!.command!.push('--etcd-servers=https://10.213.0.20:2379');
    assert.equal(nodeSpecificProblem('kube-apiserver', api), undefined);
  });

  it('notes a --bind-address made neutral', () => {
    const cm = kubeadm('kube-controller-manager.yaml');
    cm.spec.containers[0]!.command!.push('--bind-address=10.213.0.2');
    assert.deepEqual(checkConvertible('kube-controller-manager', cm).notes, ['kube-controller-manager: --bind-address=10.213.0.2 becomes $(HOST_IP), each node\'s own address (status.hostIP): check that it is the address meant on every node']);
  });

  it('blocks a pod whose label and command disagree', () => {
    const p = pod([{ name: 'kube-scheduler', image: 'registry.k8s.io/kube-scheduler:v1.34.4', command: ['kube-apiserver'] }], 'kube-scheduler');
    assert.match(checkConvertible('kube-scheduler', p).blocked!, /runs kube-apiserver: the label and the command disagree/);
  });
});
