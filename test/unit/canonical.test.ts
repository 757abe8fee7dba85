import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { COMPONENTS } from '../../src/core/components.ts';
import type { Pod } from '../../src/core/k8s-types.ts';
import { SOURCE_HASH_ANNOTATION } from '../../src/core/labels.ts';
import { toDaemonSet } from '../../src/core/transform/daemonset.ts';
import { readStaticPod } from '../../src/sources/manifests-dir.ts';
import { FIXTURES } from './helpers.ts';

type Loose = Record<string, unknown>;

/** Keys in reverse order at every level: the API server's order is not the file's. */
function reordered<T>(v: T): T {
  if (Array.isArray(v)) return v.map(reordered) as T;
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).reverse().map((k) => [k, reordered((v as Loose)[k])])) as T;
  return v;
}

/** The static pod as its mirror pod shows it: the Pod API's defaults filled in, mirror fields added, keys reordered. */
function asMirrorPod(file: Pod, node: string): Pod {
  const p = structuredClone(file) as unknown as { metadata: Loose; spec: Loose & { containers: Loose[]; volumes?: Loose[] }; status?: Loose };
  p.metadata = { ...p.metadata, name: `${p.metadata['name']}-${node}`, uid: 'a-uid', annotations: { ...(p.metadata['annotations'] as Loose), 'kubernetes.io/config.mirror': 'abc', 'kubernetes.io/config.source': 'file' }, ownerReferences: [{ kind: 'Node', name: node }] };
  Object.assign(p.spec, { nodeName: node, restartPolicy: 'Always', terminationGracePeriodSeconds: 30, schedulerName: 'default-scheduler', dnsPolicy: 'ClusterFirst', enableServiceLinks: true, preemptionPolicy: 'PreemptLowerPriority', priority: 2000001000, tolerations: [{ operator: 'Exists', effect: 'NoExecute' }] });
  p.spec['securityContext'] ??= {};
  for (const c of p.spec.containers) {
    Object.assign(c, { terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File' });
    c['imagePullPolicy'] ??= 'IfNotPresent';
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      const pr = c[probe] as Loose | undefined;
      if (!pr) continue;
      pr['timeoutSeconds'] ??= 1;
      pr['periodSeconds'] ??= 10;
      pr['successThreshold'] ??= 1;
      pr['failureThreshold'] ??= 3;
      const http = pr['httpGet'] as Loose | undefined;
      if (http) http['scheme'] ??= 'HTTP';
    }
  }
  for (const v of p.spec.volumes ?? []) {
    const hp = v['hostPath'] as Loose | undefined;
    if (hp) hp['type'] ??= '';
  }
  p.status = { phase: 'Running' };
  return reordered(p) as unknown as Pod;
}

const hash = (c: (typeof COMPONENTS)[number], pod: Pod) => toDaemonSet(c, pod).metadata.annotations![SOURCE_HASH_ANNOTATION];

describe('the template hash, read from the file or from the mirror pod', () => {
  for (const component of COMPONENTS) {
    it(`${component}: one hash for the kubeadm file and for its mirror pod`, () => {
      const { pod } = readStaticPod(join(FIXTURES, 'kubeadm', 'v1.34.4'), `${component}.yaml`);
      assert.equal(hash(component, asMirrorPod(pod, 'cp-1')), hash(component, pod));
    });
  }

  it('a changed flag, image or a probe timeout other than the default changes it', () => {
    const { pod } = readStaticPod(join(FIXTURES, 'kubeadm', 'v1.34.4'), 'kube-scheduler.yaml');
    const base = hash('kube-scheduler', pod);
    const flag = structuredClone(pod);
    flag.spec.containers[0]!.command!.push('--v=4');
    const image = structuredClone(pod);
    image.spec.containers[0]!.image = 'registry.k8s.io/kube-scheduler:v1.34.5';
    const timeout = structuredClone(pod);
    timeout.spec.containers[0]!.livenessProbe!.timeoutSeconds = 1;
    for (const changed of [flag, image]) assert.notEqual(hash('kube-scheduler', changed), base);
    // kubeadm writes timeoutSeconds: 15; 1 is the API default, so an explicit 1 differs from 15.
    assert.notEqual(hash('kube-scheduler', timeout), base);
  });
});
