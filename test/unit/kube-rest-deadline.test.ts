// A write's deadline (WriteOptions.deadline, set by the Lease fence) against a local HTTP server: no request is
// sent once it has passed, and a request the server has not answered by then is abandoned at that time.
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadKubeConfig } from '../../src/ports/kubeconfig.ts';
import { restClient } from '../../src/ports/kube-rest.ts';
import { DeadlineError, type KubeApi } from '../../src/ports/kube.ts';

describe('a write with a deadline', () => {
  const seen: string[] = [];
  const held: ServerResponse[] = [];
  let answer = true;
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (!answer) { held.push(res); return; }
    res.setHeader('Content-Type', 'application/json');
    res.end('{"metadata":{"name":"x"}}');
  });
  let kube: KubeApi;
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const file = join(mkdtempSync(join(tmpdir(), 'selfhost-deadline-')), 'config');
    writeFileSync(file, JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
      clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${(server.address() as { port: number }).port}` } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
    }));
    kube = restClient(await loadKubeConfig({ kubeconfig: file }), { requestTimeoutMs: 30_000 });
  });
  after(() => { for (const r of held) r.destroy(); server.close(); });

  it('is not sent at all once its deadline has passed (create, replace and delete alike)', async () => {
    seen.length = 0;
    answer = true;
    const past = Date.now() - 1;
    for (const write of [
      () => kube.create('/api/v1/namespaces/kube-system/configmaps', { metadata: { name: 'x' } }, { deadline: past }),
      () => kube.replace('/api/v1/namespaces/kube-system/configmaps/x', { metadata: { name: 'x' } }, { deadline: past }),
      () => kube.delete('/api/v1/namespaces/kube-system/configmaps/x', { deadline: past }),
    ]) await assert.rejects(write(), (e: unknown) => e instanceof DeadlineError && /not sent: its deadline passed/.test(e.message));
    assert.deepEqual(seen, [], 'nothing reached the server');
    await kube.create('/api/v1/namespaces/kube-system/configmaps', { metadata: { name: 'x' } }, { deadline: Date.now() + 10_000 });
    assert.deepEqual(seen, ['POST /api/v1/namespaces/kube-system/configmaps'], 'a deadline ahead lets it through');
  });

  it('is abandoned at its deadline when the server has not answered, well before --request-timeout', async () => {
    answer = false;
    const t0 = Date.now();
    await assert.rejects(kube.create('/api/v1/namespaces/kube-system/configmaps', { metadata: { name: 'y' } }, { deadline: t0 + 300 }),
      (e: unknown) => e instanceof DeadlineError && /abandoned after \d+ms: its deadline passed/.test(e.message));
    assert.ok(Date.now() - t0 < 30_000, 'it did not wait for the request timeout');
  });
});
