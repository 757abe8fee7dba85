// The e2e suite proves the RBAC with impersonated users: a kubeconfig whose user carries `as:` (kubectl's field).
// This checks, against a local HTTP server, that every request the tool sends then asks the API server to act as
// that user.
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import { localServer } from './fakes/local-server.ts';

describe('a kubeconfig user with "as:"', () => {
  it('sends Impersonate-User on every request, with the user\'s own credentials', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const { kube, close } = await localServer((req, res) => {
      seen.push(req.headers);
      res.setHeader('Content-Type', 'application/json');
      res.end(req.method === 'POST' ? '{"metadata":{}}' : '{"items":[]}');
    }, { token: 'admin-token', as: 'selfhost-operator' }, 5000);
    try {
      await kube.list('/api/v1/nodes');
      await kube.create('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { metadata: {} });
      await kube.raw('/readyz/etcd');
      assert.deepEqual(seen.map((h) => [h['impersonate-user'], h['authorization']]), Array(3).fill(['selfhost-operator', 'Bearer admin-token']));
    } finally {
      close();
    }
  });
});
