// A real HTTP server on loopback and a kubeconfig pointing at it, for tests of the REST port itself (what it sends,
// when it gives up): the port's own code runs, only the API server is a few lines of ours.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { restClient } from '../../../src/ports/kube-rest.ts';
import { loadKubeConfig } from '../../../src/ports/kubeconfig.ts';
import type { KubeApi } from '../../../src/ports/kube.ts';

export interface LocalServer { server: Server; kube: KubeApi; close(): void }

/** Starts `handle` on 127.0.0.1 and returns a KubeApi for a kubeconfig whose current context is that server and `user`. */
export async function localServer(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
  user: Record<string, unknown>,
  requestTimeoutMs: number,
): Promise<LocalServer> {
  const server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const file = join(mkdtempSync(join(tmpdir(), 'selfhost-local-')), 'config');
  writeFileSync(file, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
    clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${(server.address() as { port: number }).port}` } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
  }));
  const kube = restClient(await loadKubeConfig({ kubeconfig: file }), { requestTimeoutMs });
  return { server, kube, close: () => server.close() };
}
