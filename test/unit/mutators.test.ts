import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PodTemplate } from '../../src/core/k8s-types.ts';
import { readFlag } from '../../src/core/container.ts';
import { toPodTemplate } from '../../src/core/transform/daemonset.ts';
import {
  addControlPlaneNodeSelector, addManagedLabel, addNodeGate, criticalPriority, dropPriorityValue, enablePortSharing,
  noServiceAccountToken, nodeNeutralAddresses, probesWithoutNodeAddress, stripMirrorFields,
  tolerateEverything, withoutHostPorts,
} from '../../src/core/transform/mutators.ts';

const empty = (): PodTemplate => ({ metadata: {}, spec: { containers: [{ name: 'c' }] } });
const filled = (): PodTemplate => ({
  metadata: {
    name: 'kube-apiserver-cp-1', namespace: 'kube-system', uid: 'u-1', resourceVersion: '42',
    ownerReferences: [{ kind: 'Node', name: 'cp-1' }],
    labels: { component: 'kube-apiserver', tier: 'control-plane' },
    annotations: {
      'kubernetes.io/config.mirror': 'abc', 'kubernetes.io/config.hash': 'abc', 'kubernetes.io/config.source': 'file',
      'kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint': '10.0.0.1:6443', 'example.com/keep': 'yes',
    },
  },
  spec: {
    nodeName: 'cp-1', hostNetwork: true, priority: 2000001000, priorityClassName: 'system-node-critical',
    nodeSelector: { 'disk': 'ssd' }, tolerations: [{ operator: 'Exists', effect: 'NoExecute' }],
    containers: [{
      name: 'kube-apiserver', image: 'registry.k8s.io/kube-apiserver:v1.34.4',
      command: ['kube-apiserver', '--advertise-address=10.0.0.1', '--secure-port=6443'],
      env: [{ name: 'HOST_IP', value: 'stale' }, { name: 'OTHER', value: 'x' }],
      livenessProbe: { httpGet: { host: '10.0.0.1', path: '/livez', port: 6443 }, periodSeconds: 10 },
      readinessProbe: { httpGet: { path: '/readyz', port: 6443 } },
    }],
    volumes: [{ name: 'k8s-certs', hostPath: { path: '/etc/kubernetes/pki', type: 'DirectoryOrCreate' } }],
  },
});

describe('mutators', () => {
  it('stripMirrorFields drops mirror and node-specific metadata, keeps labels and foreign annotations', () => {
    assert.deepEqual(stripMirrorFields(empty()), { metadata: { labels: {} }, spec: { containers: [{ name: 'c' }] } });
    const t = stripMirrorFields(filled());
    assert.deepEqual(t.metadata, { labels: { component: 'kube-apiserver', tier: 'control-plane' }, annotations: { 'example.com/keep': 'yes' } });
    assert.equal(t.spec.nodeName, undefined);
    assert.equal(t.spec.hostNetwork, true);
    assert.deepEqual(t.spec.volumes, filled().spec.volumes);
  });

  it('dropPriorityValue keeps the class name only', () => {
    assert.deepEqual(dropPriorityValue(empty()), empty());
    const t = dropPriorityValue(filled());
    assert.equal(t.spec['priority'], undefined);
    assert.equal(t.spec['priorityClassName'], 'system-node-critical');
  });

  it('addManagedLabel adds the managed-by label and keeps component/tier', () => {
    assert.deepEqual(addManagedLabel(empty()).metadata.labels, { 'app.kubernetes.io/managed-by': 'kubectl-selfhost' });
    assert.deepEqual(addManagedLabel(filled()).metadata.labels, { component: 'kube-apiserver', tier: 'control-plane', 'app.kubernetes.io/managed-by': 'kubectl-selfhost' });
  });

  it('addControlPlaneNodeSelector adds the role and keeps existing selectors', () => {
    assert.deepEqual(addControlPlaneNodeSelector(empty()).spec.nodeSelector, { 'node-role.kubernetes.io/control-plane': '' });
    assert.deepEqual(addControlPlaneNodeSelector(filled()).spec.nodeSelector, { disk: 'ssd', 'node-role.kubernetes.io/control-plane': '' });
  });

  it('addNodeGate requires the component\'s own gate label, keeps existing selectors, and adds nothing without a component', () => {
    assert.deepEqual(addNodeGate(empty(), 'kube-scheduler').spec.nodeSelector, { 'kubectl-selfhost.dev/self-hosted-kube-scheduler': 'true' });
    assert.deepEqual(addNodeGate(addControlPlaneNodeSelector(filled()), 'kube-apiserver').spec.nodeSelector, { disk: 'ssd', 'node-role.kubernetes.io/control-plane': '', 'kubectl-selfhost.dev/self-hosted-kube-apiserver': 'true' });
    assert.deepEqual(addNodeGate(empty()).spec.nodeSelector, undefined);
  });

  it('tolerateEverything replaces tolerations with a single Exists', () => {
    assert.deepEqual(tolerateEverything(empty()).spec.tolerations, [{ operator: 'Exists' }]);
    assert.deepEqual(tolerateEverything(filled()).spec.tolerations, [{ operator: 'Exists' }]);
  });

  it('criticalPriority adds system-node-critical only when no class is named', () => {
    assert.equal(criticalPriority(empty()).spec['priorityClassName'], 'system-node-critical');
    const other = filled();
    other.spec['priorityClassName'] = 'system-cluster-critical';
    assert.equal(criticalPriority(other).spec['priorityClassName'], 'system-cluster-critical');
  });

  it('the DNS policy is the static pod\'s: none added, an explicit one kept', () => {
    assert.equal(toPodTemplate('kube-apiserver', { ...filled(), spec: { ...filled().spec } }).spec.dnsPolicy, undefined);
    const explicit = filled();
    explicit.spec.dnsPolicy = 'ClusterFirstWithHostNet';
    assert.equal(toPodTemplate('kube-apiserver', explicit).spec.dnsPolicy, 'ClusterFirstWithHostNet');
  });

  it('noServiceAccountToken sets its fields', () => {
    const t = noServiceAccountToken(empty());
    assert.equal(t.spec['automountServiceAccountToken'], false);
    assert.equal(t.spec['enableServiceLinks'], false);
  });

  it('enablePortSharing adds the flag once', () => {
    const noCommand = enablePortSharing(empty()).spec.containers[0]!;
    assert.equal(noCommand.command, undefined, 'an image entrypoint is never replaced');
    assert.deepEqual(noCommand.args, ['--permit-port-sharing=true']);
    const once = enablePortSharing(filled());
    assert.deepEqual(enablePortSharing(once), once);
    assert.equal(readFlag(once.spec.containers[0]!, '--permit-port-sharing'), 'true');
  });

  it('nodeNeutralAddresses: the apiserver advertises $(HOST_IP) from the downward API, replacing a stale HOST_IP', () => {
    const c = nodeNeutralAddresses(filled(), 'kube-apiserver').spec.containers[0]!;
    assert.equal(readFlag(c, '--advertise-address'), '$(HOST_IP)');
    assert.deepEqual(c.env, [{ name: 'OTHER', value: 'x' }, { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } }]);
    const bare = { metadata: {}, spec: { containers: [{ name: 'kube-apiserver', command: ['kube-apiserver'] }] } };
    assert.equal(readFlag(nodeNeutralAddresses(bare, 'kube-apiserver').spec.containers[0], '--advertise-address'), '$(HOST_IP)');
    assert.deepEqual(nodeNeutralAddresses(empty(), 'kube-scheduler'), empty(), 'no component container: unchanged');
  });

  it('probesWithoutNodeAddress: the apiserver listening on every address is probed at the steering address; else only the node\'s host goes', () => {
    assert.deepEqual(probesWithoutNodeAddress(empty()), empty());
    const c = probesWithoutNodeAddress(filled(), 'kube-apiserver').spec.containers[0]!;
    assert.deepEqual(c.livenessProbe, { httpGet: { host: '127.100.0.1', path: '/livez', port: 6443 }, periodSeconds: 10 });
    assert.deepEqual(c.readinessProbe, { httpGet: { host: '127.100.0.1', path: '/readyz', port: 6443 } });
    for (const bind of ['0.0.0.0', '::']) {
      const t = filled();
      t.spec.containers[0]!.command!.push(`--bind-address=${bind}`);
      assert.equal(probesWithoutNodeAddress(t, 'kube-apiserver').spec.containers[0]!.readinessProbe!.httpGet!.host, '127.100.0.1', bind);
    }
    // Bound to one address, the probe address would not reach it: the node's host is dropped, as for other components.
    const bound = filled();
    bound.spec.containers[0]!.command!.push('--bind-address=10.0.0.1');
    const b = probesWithoutNodeAddress(bound, 'kube-apiserver').spec.containers[0]!;
    assert.deepEqual(b.livenessProbe, { httpGet: { path: '/livez', port: 6443 }, periodSeconds: 10 });
    assert.deepEqual(b.readinessProbe, { httpGet: { path: '/readyz', port: 6443 } });
    const scheduler = filled();
    scheduler.spec.containers[0]!.name = 'kube-scheduler';
    scheduler.spec.containers[0]!.command = ['kube-scheduler'];
    assert.deepEqual(probesWithoutNodeAddress(scheduler, 'kube-scheduler').spec.containers[0]!.livenessProbe, { httpGet: { path: '/livez', port: 6443 }, periodSeconds: 10 });
  });

  it('withoutHostPorts drops ports and gives named probe ports their number', () => {
    assert.deepEqual(withoutHostPorts(empty()), empty());
    const t = filled();
    t.spec.containers[0]!['ports'] = [{ name: 'probe-port', containerPort: 6443, protocol: 'TCP' }];
    t.spec.containers[0]!.livenessProbe = { httpGet: { path: '/livez', port: 'probe-port' } };
    const c = withoutHostPorts(t).spec.containers[0]!;
    assert.equal(c['ports'], undefined);
    assert.deepEqual(c.livenessProbe, { httpGet: { path: '/livez', port: 6443 } });
    assert.deepEqual(c.readinessProbe, { httpGet: { path: '/readyz', port: 6443 } });
  });

});
