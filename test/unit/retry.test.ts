import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterError } from '../../src/core/errors.ts';
import { ApiError, paths, type KubeApi } from '../../src/ports/kube.ts';
import { failureSummary, handoverRetries, isTransient, retrying } from '../../src/ports/retry.ts';
import { fakeClock } from './fakes/clock.ts';
import { fakeKube } from './fakes/kube.ts';

const refused = () => new ClusterError('cannot reach the API server', { cause: Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6443'), { code: 'ECONNREFUSED' }) });
const reset = () => new ClusterError('cannot reach the API server', { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) });
const timedOut = () => new ClusterError('cannot reach the API server', { cause: Object.assign(new Error('no answer within --request-timeout (5000 ms)'), { code: 'ETIMEDOUT' }) });
const status = (s: number) => () => new ApiError(s, `GET x: ${s}`);

test('which failures are sent again: not-done answers for every verb, maybe-done ones for GET/LIST/DELETE only', () => {
  const table: Array<[string, () => Error, Record<'GET' | 'LIST' | 'CREATE' | 'REPLACE' | 'DELETE', boolean>]> = [
    ['403 (RBAC not synced yet)', status(403), { GET: true, LIST: true, CREATE: true, REPLACE: true, DELETE: true }],
    ['429', status(429), { GET: true, LIST: true, CREATE: true, REPLACE: true, DELETE: true }],
    ['503', status(503), { GET: true, LIST: true, CREATE: true, REPLACE: true, DELETE: true }],
    ['connection refused', refused, { GET: true, LIST: true, CREATE: true, REPLACE: true, DELETE: true }],
    ['500', status(500), { GET: true, LIST: true, CREATE: false, REPLACE: false, DELETE: true }],
    ['connection reset', reset, { GET: true, LIST: true, CREATE: false, REPLACE: false, DELETE: true }],
    ['no answer within --request-timeout', timedOut, { GET: true, LIST: true, CREATE: false, REPLACE: false, DELETE: true }],
    ['404', status(404), { GET: false, LIST: false, CREATE: false, REPLACE: false, DELETE: false }],
    ['409 conflict', status(409), { GET: false, LIST: false, CREATE: false, REPLACE: false, DELETE: false }],
    ['422 invalid', status(422), { GET: false, LIST: false, CREATE: false, REPLACE: false, DELETE: false }],
    ['a plain bug', () => new TypeError('x is undefined'), { GET: false, LIST: false, CREATE: false, REPLACE: false, DELETE: false }],
  ];
  for (const [name, make, byVerb] of table) {
    for (const [verb, want] of Object.entries(byVerb)) {
      assert.equal(isTransient(verb as 'GET', make()), want, `${name} on ${verb}`);
    }
  }
});

/** The fake API, with the next calls failing with the given errors first. */
function flaky(errors: Array<() => Error>): KubeApi {
  const kube = fakeKube();
  kube.put(paths.configMaps('kube-system'), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'kube-system' } });
  const failing = <T>(call: () => Promise<T>) => async () => {
    const next = errors.shift();
    if (next) throw next();
    return await call();
  };
  return {
    ...kube,
    get: (p) => failing(() => kube.get(p))(),
    list: (p, o) => failing(() => kube.list(p, o))(),
    create: (p, b, o) => failing(() => kube.create(p, b, o))(),
    replace: (p, b, o) => failing(() => kube.replace(p, b, o))(),
    patch: (p, b, o) => failing(() => kube.patch(p, b, o))(),
    delete: (p, o) => failing(() => kube.delete(p, o))(),
  } as KubeApi;
}

test('a request answered 403 twice by a starting apiserver succeeds on the third attempt, after growing pauses', async () => {
  const clock = fakeClock();
  const t0 = clock.t;
  const heard: string[] = [];
  const kube = retrying(flaky([status(403), status(403)]), handoverRetries, clock, (what, _e, n) => heard.push(`${what} #${n}`));
  const items = await kube.list(paths.configMaps('kube-system'));
  assert.equal(items.length, 1);
  assert.deepEqual(heard, ['LIST /api/v1/namespaces/kube-system/configmaps #1', 'LIST /api/v1/namespaces/kube-system/configmaps #2']);
  assert.equal(clock.t - t0, handoverRetries.delaysMs[0]! + handoverRetries.delaysMs[1]!);
});

test('a denial that lasts is reported after the last retry, with the server\'s own message', async () => {
  const clock = fakeClock();
  const n = handoverRetries.delaysMs.length;
  const kube = retrying(flaky(Array.from({ length: n + 1 }, () => status(403))), handoverRetries, clock);
  await assert.rejects(kube.get(paths.configMap('kube-system', 'a')), (e: ApiError) => e.status === 403);
});

test('a create that may have happened (500) is not sent again; one refused before it reached a server is', async () => {
  const clock = fakeClock();
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b', namespace: 'kube-system' } };
  await assert.rejects(retrying(flaky([status(500)]), handoverRetries, clock).create(paths.configMaps('kube-system'), cm), (e: ApiError) => e.status === 500);
  const created = await retrying(flaky([refused]), handoverRetries, clock).create(paths.configMaps('kube-system'), cm);
  assert.equal(created.metadata.name, 'b');
});

test('raw GETs (pod logs, configz) are asked again on a transient status and return the last answer if it persists', async () => {
  const kube = fakeKube();
  const answers = [{ status: 403, body: 'forbidden' }, { status: 503, body: 'not ready' }, { status: 200, body: 'the log' }];
  kube.raw = async () => answers.shift() ?? { status: 503, body: 'still not ready' };
  let retried = 0;
  const api = retrying(kube, handoverRetries, fakeClock(), () => retried++);
  assert.deepEqual(await api.raw('/log'), { status: 200, body: 'the log' });
  assert.equal(retried, 2);
  assert.deepEqual(await api.raw('/log'), { status: 503, body: 'still not ready' }, 'the last answer after the last retry');
  kube.raw = async () => ({ status: 404, body: 'not found' });
  retried = 0;
  assert.deepEqual(await api.raw('/configz'), { status: 404, body: 'not found' });
  assert.equal(retried, 0, 'a 404 is an answer, not a hiccup');
});

test('a raw GET asked once is not asked again, whatever it answers', async () => {
  const kube = fakeKube();
  kube.raw = async () => ({ status: 503, body: 'no kubelet' });
  let retried = 0;
  const api = retrying(kube, handoverRetries, fakeClock(), () => retried++);
  assert.deepEqual(await api.raw('/configz', { once: true }), { status: 503, body: 'no kubelet' });
  assert.equal(retried, 0);
});

test('retries are summarised in a few words, never with the request body', () => {
  assert.equal(failureSummary(new ApiError(403, 'GET /x: 403 Forbidden pods is forbidden', 'Forbidden')), 'HTTP 403 Forbidden');
  assert.equal(failureSummary(refused()), 'ECONNREFUSED');
  assert.equal(failureSummary(new ApiError(503, 'GET /x: 503')), 'HTTP 503');
});
