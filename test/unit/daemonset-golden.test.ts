import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { COMPONENTS } from '../../src/core/components.ts';
import { toDaemonSet } from '../../src/core/transform/daemonset.ts';
import { toYaml } from '../../src/core/yaml.ts';
import { readStaticPod } from '../../src/sources/manifests-dir.ts';
import { assertGolden, FIXTURES } from './helpers.ts';

for (const version of ['v1.34.4', 'v1.33.6']) {
  describe(`static pod -> DaemonSet, kubeadm ${version}`, () => {
    for (const component of COMPONENTS) {
      it(`${component} matches its golden DaemonSet`, () => {
        const seen = readStaticPod(join(FIXTURES, 'kubeadm', version), `${component}.yaml`);
        const ds = toDaemonSet(component, seen.pod);
        assertGolden(`${version}/${component}.daemonset.yaml`, toYaml(ds));
      });

      it(`${component} keeps everything the static pod needs to run`, () => {
        const { pod } = readStaticPod(join(FIXTURES, 'kubeadm', version), `${component}.yaml`);
        const t = toDaemonSet(component, pod).spec.template;
        const [src, out] = [pod.spec.containers[0]!, t.spec.containers[0]!];
        assert.equal(out.image, src.image);
        for (const flag of src.command ?? []) {
          if (!flag.startsWith('--advertise-address')) assert.ok(out.command!.includes(flag), `${flag} kept`);
        }
        assert.deepEqual(t.spec.volumes, pod.spec.volumes);
        assert.deepEqual(out['volumeMounts'], src['volumeMounts']);
        assert.deepEqual(out['resources'], src['resources']);
        assert.equal(t.spec.hostNetwork, true);
        assert.equal(t.spec['priorityClassName'], 'system-node-critical');
        assert.deepEqual(t.spec['securityContext'], pod.spec['securityContext']);
        for (const probe of ['livenessProbe', 'startupProbe', 'readinessProbe'] as const) {
          if (src[probe]) assert.equal(out[probe]?.httpGet?.path, src[probe]?.httpGet?.path);
        }
        assert.equal(t.metadata.labels?.['component'], component);
        assert.equal(t.metadata.labels?.['tier'], 'control-plane');
        assert.equal(t.spec.nodeName, undefined);
        assert.equal(JSON.stringify(t).includes('10.213.0.2'), false, 'no node address leaks into the template');
      });
    }
  });
}
