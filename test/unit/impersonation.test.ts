// The e2e suite proves the RBAC with impersonated users: a kubeconfig whose user carries `as:` (kubectl's field).
// This checks, against a local HTTP server, that every request the tool sends then asks the API server to act as
// that user.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadKubeConfig } from '../../src/ports/kubeconfig.ts';
import { restClient } from '../../src/ports/kube-rest.ts';

describe('a kubeconfig user with "as:"', () => {
  it('sends Impersonate-User on every request, with the user\'s own credentials', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      res.setHeader('Content-Type', 'application/json');
      res.end(req.method === 'POST' ? '{"metadata":{}}' : '{"items":[]}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const file = join(mkdtempSync(join(tmpdir(), 'selfhost-as-')), 'config');
      writeFileSync(file, JSON.stringify({
        apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
        clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'admin', user: { token: 'admin-token', as: 'selfhost-operator' } }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'admin' } }],
      }));
      const kube = restClient(await loadKubeConfig({ kubeconfig: file }), { requestTimeoutMs: 5000 });
      await kube.list('/api/v1/nodes');
      await kube.create('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { metadata: {} });
      await kube.raw('/readyz/etcd');
      assert.deepEqual(seen.map((h) => [h['impersonate-user'], h['authorization']]), Array(3).fill(['selfhost-operator', 'Bearer admin-token']));
    } finally {
      server.close();
    }
  });
});
