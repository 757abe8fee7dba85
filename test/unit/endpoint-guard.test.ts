// The endpoint guard (src/core/endpoint-guard.ts, src/pivot/endpoint-guard-steps.ts) against the fake API port:
// its objects, in force before a hand-over or given up with a note, replaced when a killed run left one, removed
// only after the hold. Whether the API server really refuses the apiservers' removals is the bed's to show
// (test/e2e: the in-cluster prober's figures, and the policy's own check answered by the real admission chain).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GUARD_HOLD_MS, GUARD_NAME, guardObjects, guardPaths } from '../../src/core/endpoint-guard.ts';
import { GUARD_IN_FORCE_MS, guardEndpoints, unguardEndpoints } from '../../src/pivot/endpoint-guard-steps.ts';
import { ApiError } from '../../src/ports/kube.ts';
import { fakeClock } from './fakes/clock.ts';
import { fakeKube } from './fakes/kube.ts';

const world = () => ({ kube: fakeKube(), clock: fakeClock() });

describe('the endpoint guard', () => {
  it('names every handed-over address in its rule, refuses nothing on an evaluation error, and is bound to deny', () => {
    const { policy, binding } = guardObjects(['10.0.0.8', '10.0.0.7']);
    const spec = policy.spec as { failurePolicy: string; validations: Array<{ expression: string; reason: string }>; matchConstraints: { resourceRules: Array<{ resources: string[]; operations: string[]; resourceNames?: string[] }> } };
    assert.equal(spec.failurePolicy, 'Ignore');
    assert.match(spec.validations[0]!.expression, /\['10\.0\.0\.7', '10\.0\.0\.8'\]\.all\(ip, /);
    assert.deepEqual(spec.matchConstraints.resourceRules.map((r) => `${r.operations.join()} ${r.resources.join()} ${r.resourceNames?.join() ?? '*'}`), ['UPDATE endpoints kubernetes', 'CREATE configmaps *']);
    assert.deepEqual(binding.spec, { policyName: GUARD_NAME, validationActions: ['Deny'] });
    // 422, never 403: the tool's requests take a 403 for a starting apiserver's RBAC and send it again for 16 s.
    assert.deepEqual(spec.validations.map((v) => v.reason), ['Invalid', 'Invalid']);
  });

  it('is in force once the answering apiserver refuses its check: policy, then binding, then the dry-run check', async () => {
    const w = world();
    assert.equal(await guardEndpoints(w, ['10.0.0.7']), undefined);
    assert.ok(w.kube.objects.has(guardPaths.policy(GUARD_NAME)) && w.kube.objects.has(guardPaths.binding(GUARD_NAME)));
    assert.deepEqual(w.kube.calls.filter((c) => c.startsWith('CREATE')), [
      `CREATE ${guardPaths.policies()}/${GUARD_NAME}`, `CREATE ${guardPaths.bindings()}/${GUARD_NAME}`, 'CREATE /api/v1/namespaces/kube-system/configmaps/kubectl-selfhost-guard-check (dry-run)',
    ]);
  });

  it('replaces a guard a killed run left, with its resourceVersion (these objects take no unconditional update)', async () => {
    const w = world();
    w.kube.put(guardPaths.policies(), { ...guardObjects(['10.0.0.9']).policy, metadata: { ...guardObjects([]).policy.metadata, resourceVersion: '41' } } as never);
    await guardEndpoints(w, ['10.0.0.7']);
    const now = w.kube.objects.get(guardPaths.policy(GUARD_NAME)) as unknown as { metadata: { resourceVersion: string }; spec: { validations: Array<{ expression: string }> } };
    assert.equal(now.metadata.resourceVersion, '41');
    assert.match(now.spec.validations[0]!.expression, /\['10\.0\.0\.7'\]/);
  });

  it('where the API has no ValidatingAdmissionPolicy: not guarded, said, nothing else sent', async () => {
    const w = world();
    w.kube.create = async () => { throw new ApiError(404, 'the server could not find the requested resource', 'NotFound'); };
    assert.match(String(await guardEndpoints(w, ['10.0.0.7'])), /^not guarded: this cluster serves no ValidatingAdmissionPolicy .*Kubernetes 1\.30\+/);
  });

  it(`not in force after ${GUARD_IN_FORCE_MS / 1000} s (the admission plugin off): removed again, said, the run goes on`, async () => {
    const w = world();
    const create = w.kube.create;
    w.kube.create = async (p, body, o) => (o?.dryRun ? structuredClone(body) : create(p, body, o));
    const t0 = w.clock.t;
    assert.match(String(await guardEndpoints(w, ['10.0.0.7'])), /^not guarded: the policy was not in force after 20 s .*removed again$/);
    assert.ok(w.clock.t - t0 >= GUARD_IN_FORCE_MS);
    assert.equal(w.kube.objects.has(guardPaths.policy(GUARD_NAME)) || w.kube.objects.has(guardPaths.binding(GUARD_NAME)), false);
  });

  it('a dry run (server) sends the objects only: no wait for the check', async () => {
    const w = world();
    await guardEndpoints(w, ['10.0.0.7'], false);
    assert.equal(w.kube.calls.some((c) => c.includes('guard-check')), false);
  });

  it('a binding that cannot be read is not taken for "none in place": the failure is thrown and nothing is deleted', async () => {
    const w = world();
    await guardEndpoints(w, ['10.0.0.7']);
    w.kube.objects.delete(guardPaths.policy(GUARD_NAME));
    const get = w.kube.get;
    w.kube.get = async (p) => (p === guardPaths.binding(GUARD_NAME) ? Promise.reject(new ApiError(500, 'etcdserver: request timed out', 'InternalError')) : get(p));
    w.kube.calls.length = 0;
    await assert.rejects(unguardEndpoints(w), /request timed out/);
    assert.deepEqual(w.kube.calls.filter((c) => c.startsWith('DELETE')), []);
    assert.ok(w.kube.objects.has(guardPaths.binding(GUARD_NAME)));
  });

  it(`is removed ${GUARD_HOLD_MS / 1000} s after the last hand-over, binding first; with none in place, nothing is waited for`, async () => {
    const w = world();
    assert.equal(await unguardEndpoints(w), 'no endpoint guard was in place');
    assert.equal(w.clock.t, fakeClock().t);
    await guardEndpoints(w, ['10.0.0.7']);
    w.kube.calls.length = 0;
    const t0 = w.clock.t;
    assert.equal(await unguardEndpoints(w), undefined);
    assert.equal(w.clock.t - t0, GUARD_HOLD_MS);
    assert.deepEqual(w.kube.calls.filter((c) => c.startsWith('DELETE')), [`DELETE ${guardPaths.binding(GUARD_NAME)}`, `DELETE ${guardPaths.policy(GUARD_NAME)}`]);
    assert.equal(w.kube.objects.has(guardPaths.policy(GUARD_NAME)), false);
  });
});
