// Every real control plane of the corpus (test/fixtures/corpus: public repositories; test/fixtures/kubeadm: real
// kubeadm output for every supported minor) plans as its golden file says: a summary of the plan and the
// DaemonSets, or, for a set that must be refused, the one error line. Every DaemonSet is valid for the oldest
// and the newest supported Kubernetes schema and keeps what its static pod needs. UPDATE_GOLDEN=1 rewrites.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PIVOT_ORDER } from '../../src/core/components.ts';
import { mainContainer, readFlag } from '../../src/core/container.ts';
import type { Container, DaemonSet, Pod } from '../../src/core/k8s-types.ts';
import { buildPlan, type Plan } from '../../src/core/plan.ts';
import { toYamlStream, toYaml } from '../../src/core/yaml.ts';
import { readManifestsDir } from '../../src/sources/manifests-dir.ts';
import { assertGolden, FIXTURES, REPO } from './helpers.ts';
import { daemonSetErrors, SCHEMA_VERSIONS } from './openapi.ts';

const NOW = new Date('2026-01-02T03:04:05Z');
const sets = (dir: string) => readdirSync(join(FIXTURES, dir), { withFileTypes: true }).filter((d) => d.isDirectory() && /^[a-z0-9v]/.test(d.name)).map((d) => d.name).sort();
const CASES = [
  ...sets('corpus').map((name) => ({ name: `corpus/${name}`, dir: join(FIXTURES, 'corpus', name) })),
  ...sets('kubeadm').map((name) => ({ name: `kubeadm/${name}`, dir: join(FIXTURES, 'kubeadm', name) })),
];

/** What a reviewer reads: per component its action and reason, the step ids, every warning. */
function summary(plan: Plan): string {
  return toYaml({
    components: plan.components.map((c) => ({ component: c.component, action: c.action, reason: c.reason })),
    steps: plan.steps.map((s) => s.id),
    warnings: plan.warnings.map((w) => `${w.code}: ${w.message}`),
  }).replaceAll(REPO, '<repo>');
}

const argv = (c: Container | undefined) => [...(c?.command ?? []), ...(c?.args ?? [])];
const REWRITTEN = ['--advertise-address', '--bind-address'];

/** What the DaemonSet must keep from its static pod, whatever the set. */
function assertKeeps(component: string, pod: Pod, ds: DaemonSet): void {
  const t = ds.spec.template;
  const [src, out] = [mainContainer(pod, component)!, mainContainer(t, component)!];
  assert.equal(out.image, src.image);
  for (const flag of argv(src)) {
    if (!REWRITTEN.some((f) => flag.startsWith(`${f}=`))) assert.ok(argv(out).includes(flag), `${component}: ${flag} kept`);
  }
  const added = argv(out).filter((a) => !argv(src).includes(a));
  for (const a of added) assert.match(a, /^--(permit-port-sharing=true|advertise-address=\$\(HOST_IP\)|bind-address=\$\(HOST_IP\))$/, `${component}: only known flags added`);
  assert.deepEqual(t.spec.volumes, pod.spec.volumes);
  assert.deepEqual(out['volumeMounts'], src['volumeMounts']);
  assert.deepEqual(out['resources'], src['resources']);
  assert.equal(t.spec.dnsPolicy, pod.spec.dnsPolicy, `${component}: DNS policy as the static pod's`);
  assert.ok(t.spec['priorityClassName'], `${component}: a priority class`);
  for (const [i, c] of pod.spec.containers.entries()) {
    if (c === src) continue;
    const { ports: _p, ...sidecar } = c as Container & { ports?: unknown };
    assert.deepEqual(t.spec.containers[i], sidecar, `${component}: sidecar ${c.name} unchanged but for host ports`);
  }
  const address = readFlag(src, '--advertise-address');
  if (address !== undefined) assert.equal(JSON.stringify(t).includes(address), false, `${component}: ${address} does not leak into the template`);
}

describe('corpus: every set plans as its golden file says', () => {
  for (const { name, dir } of CASES) {
    it(name, () => {
      let plan: Plan;
      try {
        plan = buildPlan(readManifestsDir(dir), { components: [...PIVOT_ORDER] }, NOW);
      } catch (err) {
        assertGolden(`${name}/error.txt`, `${(err as Error).message.replaceAll(REPO, '<repo>')}\n`);
        return;
      }
      assertGolden(`${name}/summary.yaml`, summary(plan));
      const daemonSets = plan.components.filter((c) => c.action === 'pivot').map((c) => c.daemonSet!);
      assertGolden(`${name}/daemonsets.yaml`, toYamlStream(daemonSets));
      for (const cp of plan.components.filter((c) => c.action === 'pivot')) {
        for (const version of SCHEMA_VERSIONS) assert.deepEqual(daemonSetErrors(version, cp.daemonSet), [], `${cp.component} valid for ${version}`);
        assertKeeps(cp.component, cp.staticPod!, cp.daemonSet!);
      }
    });
  }

  it('covers at least ten public sets and every kubeadm minor from the oldest schema to the newest', () => {
    assert.ok(CASES.filter((c) => c.name.startsWith('corpus/')).length >= 10);
    const minors = CASES.filter((c) => c.name.startsWith('kubeadm/')).map((c) => Number(c.name.split('.')[1]));
    const [oldest, newest] = SCHEMA_VERSIONS.map((v) => Number(v.split('.')[1]));
    for (let m = oldest!; m <= newest!; m++) assert.ok(minors.includes(m), `kubeadm output for 1.${m}`);
  });
});
