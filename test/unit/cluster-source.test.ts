import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ClusterError } from '../../src/core/errors.ts';
import { guardObjects, guardPaths } from '../../src/core/endpoint-guard.ts';
import { ApiError, paths } from '../../src/ports/kube.ts';
import { parseCheckpointRecord, readCluster } from '../../src/sources/cluster.ts';
import { readStaticPod } from '../../src/sources/manifests-dir.ts';
import { fakeKube } from './fakes/kube.ts';
import { FIXTURES } from './helpers.ts';

const where = { context: 'bed', server: 'https://10.213.0.2:6443' };
const node = (name: string) => ({ metadata: { name, labels: { 'node-role.kubernetes.io/control-plane': '' } }, status: { conditions: [{ type: 'Ready', status: 'True' }] } });

function mirror(component: string, nodeName: string) {
  const { pod } = readStaticPod(join(FIXTURES, 'kubeadm', 'v1.34.4'), `${component}.yaml`);
  return {
    ...pod,
    metadata: { ...pod.metadata, name: `${component}-${nodeName}`, annotations: { 'kubernetes.io/config.mirror': 'h' } },
    spec: { ...pod.spec, nodeName },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ restartCount: 2 }] },
  };
}

describe('readCluster', () => {
  it('builds a snapshot from control-plane nodes, mirror pods and the kubelet static pod path', async () => {
    const kube = fakeKube();
    kube.put(paths.nodes(), node('cp-1'));
    for (const c of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) kube.put(paths.pods('kube-system'), mirror(c, 'cp-1'));
    kube.rawAnswers.set(paths.nodeConfigz('cp-1'), { status: 200, body: JSON.stringify({ kubeletconfig: { staticPodPath: '/srv/manifests/' } }) });
    const snap = await readCluster(kube, where);
    assert.equal(snap.nodes[0]!.staticPodPath, '/srv/manifests');
    assert.deepEqual(snap.nodes[0]!.staticPods.map((s) => s.recognition.kind).sort(), ['component', 'component', 'component', 'etcd']);
    assert.equal(snap.nodes[0]!.staticPods[0]!.restarts, 2);
    assert.equal(snap.journal, null);
  });

  it('sees an endpoint guard left in place (its policy, or its binding alone), none, or none readable (403: unknown)', async () => {
    const seen = async (put: (kube: ReturnType<typeof fakeKube>) => void) => {
      const kube = fakeKube();
      kube.put(paths.nodes(), node('cp-1'));
      kube.put(paths.pods('kube-system'), mirror('kube-apiserver', 'cp-1'));
      put(kube);
      return (await readCluster(kube, where)).endpointGuard;
    };
    const { policy, binding } = guardObjects(['10.0.0.7']);
    assert.equal(await seen(() => {}), false);
    assert.equal(await seen((k) => k.put(guardPaths.policies(), policy as never)), true);
    assert.equal(await seen((k) => k.put(guardPaths.bindings(), binding as never)), true);
    assert.equal(await seen((k) => {
      const get = k.get;
      k.get = async (p) => (p.includes('validatingadmissionpolic') ? Promise.reject(new ApiError(403, 'forbidden', 'Forbidden')) : get(p));
    }), undefined);
    await assert.rejects(seen((k) => {
      const get = k.get;
      k.get = async (p) => (p.includes('validatingadmissionpolic') ? Promise.reject(new ApiError(500, 'etcdserver: request timed out', 'InternalError')) : get(p));
    }), /request timed out/);
  });

  it('falls back to kubeadm\'s static pod path when configz is not readable', async () => {
    const kube = fakeKube();
    kube.put(paths.nodes(), node('cp-1'));
    kube.put(paths.pods('kube-system'), mirror('kube-apiserver', 'cp-1'));
    assert.equal((await readCluster(kube, where)).nodes[0]!.staticPodPath, '/etc/kubernetes/manifests');
  });

  it('asks the kubelet of a node that is not Ready for its configz once, a Ready node\'s with the usual retries', async () => {
    const kube = fakeKube();
    kube.put(paths.nodes(), node('cp-1'));
    kube.put(paths.nodes(), { ...node('cp-2'), status: { conditions: [{ type: 'Ready', status: 'Unknown' }] } });
    kube.put(paths.pods('kube-system'), mirror('kube-apiserver', 'cp-1'));
    const asked: Array<[string, boolean]> = [];
    kube.raw = async (p, o) => { asked.push([p, o?.once === true]); return { status: 503, body: 'no kubelet' }; };
    const snap = await readCluster(kube, where);
    assert.deepEqual(asked.sort(), [[paths.nodeConfigz('cp-1'), false], [paths.nodeConfigz('cp-2'), true]]);
    assert.deepEqual(snap.nodes.map((n) => n.staticPodPath), ['/etc/kubernetes/manifests', '/etc/kubernetes/manifests']);
  });

  it('refuses a cluster with no static control plane, saying why', async () => {
    const kube = fakeKube();
    kube.put(paths.nodes(), node('cp-1'));
    await assert.rejects(readCluster(kube, where), (e: unknown) => e instanceof ClusterError && /no kubeadm static control plane in context "bed": no control-plane mirror pods/.test(e.message));
    await assert.rejects(readCluster(fakeKube(), where), /no node carries the node-role.kubernetes.io\/control-plane label/);
  });

  it('reports an unreadable journal instead of failing, and reads the backups, the checkpoint record and the node images', async () => {
    const kube = fakeKube();
    kube.put(paths.nodes(), { ...node('cp-1'), status: { ...node('cp-1').status, images: [{ names: ['registry.k8s.io/kube-apiserver:v1.34.4'] }] } });
    kube.put(paths.pods('kube-system'), mirror('kube-apiserver', 'cp-1'));
    const own = { 'app.kubernetes.io/managed-by': 'kubectl-selfhost' };
    kube.put(paths.configMaps('kube-system'), { metadata: { name: 'kubectl-selfhost-journal', labels: own }, data: { 'journal.json': '{not json' } });
    kube.put(paths.configMaps('kube-system'), { metadata: { name: 'kubectl-selfhost-backup-cp-1', labels: own }, data: { 'kube-scheduler.yaml': 'x: 1\n' } });
    kube.put(paths.configMaps('kube-system'), { metadata: { name: 'kubectl-selfhost-checkpoints', labels: own }, data: { 'cp-1': '{"generation":3,"image":"registry.k8s.io/kube-apiserver:v1.34.4"}' } });
    const snap = await readCluster(kube, where);
    assert.equal(snap.journal, null);
    assert.match(snap.journalProblem!, /the journal \(ConfigMap kube-system\/kubectl-selfhost-journal\) cannot be read: it is not valid JSON/);
    assert.deepEqual(snap.backups, { 'cp-1': { 'kube-scheduler': 'x: 1\n' } });
    assert.deepEqual([snap.nodes[0]!.checkpoint!.recordedGeneration, snap.nodes[0]!.checkpoint!.recordedImage], [3, 'registry.k8s.io/kube-apiserver:v1.34.4']);
    assert.deepEqual(snap.nodes[0]!.images, ['registry.k8s.io/kube-apiserver:v1.34.4']);
    assert.deepEqual(parseCheckpointRecord('7'), { generation: 7 }, 'a record of an older version still reads');
  });
});
