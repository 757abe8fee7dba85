// A write's deadline (WriteOptions.deadline, set by the Lease fence) against a local HTTP server: no request is
// sent once it has passed, and a request the server has not answered by then is abandoned at that time.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { DeadlineError, type KubeApi } from '../../src/ports/kube.ts';
import { localServer, type LocalServer } from './fakes/local-server.ts';

describe('a write with a deadline', () => {
  const seen: string[] = [];
  const held: ServerResponse[] = [];
  let answer = true;
  let local: LocalServer;
  let kube: KubeApi;
  before(async () => {
    local = await localServer((req, res) => {
      seen.push(`${req.method} ${req.url}${req.method === 'PATCH' ? ` ${req.headers['content-type']}` : ''}`);
      if (!answer) { held.push(res); return; }
      res.setHeader('Content-Type', 'application/json');
      res.end('{"metadata":{"name":"x"}}');
    }, { token: 't' }, 30_000);
    kube = local.kube;
  });
  after(() => { for (const r of held) r.destroy(); local.close(); });

  it('is not sent at all once its deadline has passed (create, replace and delete alike)', async () => {
    seen.length = 0;
    answer = true;
    const past = Date.now() - 1;
    for (const write of [
      () => kube.create('/api/v1/namespaces/kube-system/configmaps', { metadata: { name: 'x' } }, { deadline: past }),
      () => kube.replace('/api/v1/namespaces/kube-system/configmaps/x', { metadata: { name: 'x' } }, { deadline: past }),
      () => kube.delete('/api/v1/namespaces/kube-system/configmaps/x', { deadline: past }),
      () => kube.patch('/api/v1/nodes/x', { metadata: { labels: { a: 'b' } } }, { deadline: past }),
    ]) await assert.rejects(write(), (e: unknown) => e instanceof DeadlineError && /not sent: its deadline passed/.test(e.message));
    assert.deepEqual(seen, [], 'nothing reached the server');
    await kube.create('/api/v1/namespaces/kube-system/configmaps', { metadata: { name: 'x' } }, { deadline: Date.now() + 10_000 });
    assert.deepEqual(seen, ['POST /api/v1/namespaces/kube-system/configmaps'], 'a deadline ahead lets it through');
    // A node label is set by a JSON merge patch (a null removes it), with dryRun=All in a server dry run.
    await kube.patch('/api/v1/nodes/x', { metadata: { labels: { a: null } } }, { deadline: Date.now() + 10_000, dryRun: true });
    assert.equal(seen.at(-1), 'PATCH /api/v1/nodes/x?dryRun=All application/merge-patch+json');
  });

  it('is abandoned at its deadline when the server has not answered, well before --request-timeout', async () => {
    answer = false;
    const t0 = Date.now();
    await assert.rejects(kube.create('/api/v1/namespaces/kube-system/configmaps', { metadata: { name: 'y' } }, { deadline: t0 + 300 }),
      (e: unknown) => e instanceof DeadlineError && /abandoned after \d+ms: its deadline passed/.test(e.message));
    assert.ok(Date.now() - t0 < 30_000, 'it did not wait for the request timeout');
  });
});
