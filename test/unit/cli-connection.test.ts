// kubectl's connection flags against real HTTP(S) servers on 127.0.0.1: what reaches the server (server, token,
// impersonation headers, client certificate), TLS settings and their precedence over the kubeconfig, and the one
// line each failure gives (401, an answer that is not JSON, a server that never answers, bad PEM material).
// TLS material: test/fixtures/tls (make.sh).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, describe, it } from 'node:test';
import { run } from '../../src/cli.ts';
import { bufferIo, FIXTURES } from './helpers.ts';

const TLS = join(FIXTURES, 'tls');
const tls = (f: string) => join(TLS, f);
const dir = mkdtempSync(join(tmpdir(), 'selfhost-conn-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Seen { method: string; url: string; headers: Record<string, string[]>; peer?: string }
type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A Kubernetes-shaped answer: empty lists, 404 for single objects (plan then finds no control plane: exit 4). */
const emptyCluster: Handler = (req, res) => {
  const list = !/\/configmaps\//.test(req.url ?? '');
  res.writeHead(list ? 200 : 404, { 'content-type': 'application/json' });
  res.end(JSON.stringify(list ? { kind: 'List', items: [] } : { kind: 'Status', reason: 'NotFound' }));
};

const servers: Array<{ close(): void; closeAllConnections?(): void }> = [];
after(() => servers.forEach((s) => { s.closeAllConnections?.(); s.close(); }));

async function serve(handler: Handler = emptyCluster, https?: { cert: string; key: string }): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate?.()?.subject?.CN;
    seen.push({ method: req.method!, url: req.url!, headers: req.headersDistinct as Record<string, string[]>, ...(peer ? { peer: String(peer) } : {}) });
    handler(req, res);
  };
  const server = https
    ? createHttps({ cert: readFileSync(tls(https.cert)), key: readFileSync(tls(https.key)), ca: readFileSync(tls('ca.crt')), requestCert: true, rejectUnauthorized: false }, listener)
    : createHttp(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `${https ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

let n = 0;
function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown> = { token: 'from-kubeconfig' }): string {
  const file = join(dir, `config-${n++}`);
  writeFileSync(file, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'bed',
    clusters: [{ name: 'bed', cluster }], users: [{ name: 'admin', user }], contexts: [{ name: 'bed', context: { cluster: 'bed', user: 'admin' } }],
  }));
  return file;
}

async function plan(args: string[], env: NodeJS.ProcessEnv = { HOME: '/nonexistent' }) {
  const io = bufferIo(env);
  const code = await run(['plan', ...args], io);
  return { code, out: io.stdout(), err: io.stderr() };
}

/** The plan reached the fake (empty) cluster and said there is nothing to plan there. */
const reached = (r: { code: number; err: string }) => {
  assert.equal(r.code, 4, r.err);
  assert.match(r.err, /^error: no kubeadm static control plane in context/);
};

const oneLine = (r: { err: string }) => assert.equal(r.err.trimEnd().split('\n').length, 1, r.err);

describe('connection flags override the kubeconfig', () => {
  it('--server and --token replace the context\'s server and credentials', async () => {
    const s = await serve();
    reached(await plan(['--kubeconfig', kubeconfig({ server: 'http://127.0.0.1:1' }), '--server', s.url, '--token', 'from-flag']));
    assert.deepEqual(s.seen[0]!.headers['authorization'], ['Bearer from-flag']);
  });

  it('the kubeconfig\'s token is used without --token', async () => {
    const s = await serve();
    reached(await plan(['--kubeconfig', kubeconfig({ server: s.url })]));
    assert.deepEqual(s.seen[0]!.headers['authorization'], ['Bearer from-kubeconfig']);
  });

  it('--server alone works without any kubeconfig, as in kubectl', async () => {
    const s = await serve();
    reached(await plan(['--server', s.url, '--token', 't']));
    assert.equal(s.seen.length > 0, true);
  });

  it('--as, --as-group (repeated) and --as-uid send Impersonate-User, Impersonate-Group (one header each) and Impersonate-Uid', async () => {
    const s = await serve();
    reached(await plan(['--kubeconfig', kubeconfig({ server: s.url }), '--as', 'alice', '--as-group', 'devs', '--as-group', 'system:masters', '--as-uid', '42']));
    for (const seen of s.seen) {
      assert.deepEqual(seen.headers['impersonate-user'], ['alice']);
      assert.deepEqual(seen.headers['impersonate-group'], ['devs', 'system:masters']);
      assert.deepEqual(seen.headers['impersonate-uid'], ['42']);
    }
  });

  it('--as-group without --as is refused before any request', async () => {
    const s = await serve();
    const r = await plan(['--kubeconfig', kubeconfig({ server: s.url }), '--as-group', 'devs']);
    assert.equal(r.code, 2);
    assert.match(r.err, /^error: --as-group and --as-uid need --as/);
    assert.equal(s.seen.length, 0);
  });
});

describe('TLS flags', () => {
  it('the kubeconfig\'s certificate-authority is trusted; without it the failure names the fix', async () => {
    const s = await serve(emptyCluster, { cert: 'server.crt', key: 'server.key' });
    reached(await plan(['--kubeconfig', kubeconfig({ server: s.url, 'certificate-authority': tls('ca.crt') })]));
    const r = await plan(['--kubeconfig', kubeconfig({ server: s.url })]);
    assert.equal(r.code, 4);
    oneLine(r);
    assert.match(r.err, /cannot reach the API server https:\/\/127\.0\.0\.1:\d+ of context "bed": its certificate is not signed by the certificate authority of the kubeconfig; check certificate-authority\(-data\) or --certificate-authority/);
  });

  it('--certificate-authority and --insecure-skip-tls-verify replace the kubeconfig\'s CA settings, but not together', async () => {
    const s = await serve(emptyCluster, { cert: 'server.crt', key: 'server.key' });
    const wrongCa = kubeconfig({ server: s.url, 'certificate-authority-data': Buffer.from(readFileSync(tls('client.crt'))).toString('base64') });
    reached(await plan(['--kubeconfig', wrongCa, '--certificate-authority', tls('ca.crt')]));
    reached(await plan(['--kubeconfig', wrongCa, '--insecure-skip-tls-verify']));
    const both = await plan(['--kubeconfig', wrongCa, '--insecure-skip-tls-verify', '--certificate-authority', tls('ca.crt')]);
    assert.equal(both.code, 2);
    assert.match(both.err, /--certificate-authority and --insecure-skip-tls-verify contradict each other/);
  });

  it('--tls-server-name checks the certificate against another name', async () => {
    const s = await serve(emptyCluster, { cert: 'name-only.crt', key: 'name-only.key' });
    const cfg = kubeconfig({ server: s.url, 'certificate-authority': tls('ca.crt') });
    const r = await plan(['--kubeconfig', cfg]);
    assert.equal(r.code, 4);
    assert.match(r.err, /its certificate is not valid for this host name; connect by a name the certificate has, or set --tls-server-name/);
    reached(await plan(['--kubeconfig', cfg, '--tls-server-name', 'kubernetes']));
  });

  it('--client-certificate and --client-key present that certificate', async () => {
    const s = await serve(emptyCluster, { cert: 'server.crt', key: 'server.key' });
    reached(await plan(['--kubeconfig', kubeconfig({ server: s.url, 'certificate-authority': tls('ca.crt') }, {}), '--client-certificate', tls('client.crt'), '--client-key', tls('client.key')]));
    assert.equal(s.seen[0]!.peer, 'alice');
  });

  it('bad PEM material is named, not reported by OpenSSL, before any request', async () => {
    const s = await serve(emptyCluster, { cert: 'server.crt', key: 'server.key' });
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const cases: Array<[string[], RegExp]> = [
      [['--kubeconfig', kubeconfig({ server: s.url }, { 'client-certificate-data': b64('hello'), 'client-key-data': b64('hello') })], /^error: client-certificate-data of user "admin" in the kubeconfig is not a PEM-encoded certificate/],
      [['--kubeconfig', kubeconfig({ server: s.url, 'certificate-authority-data': b64('not a cert') })], /^error: certificate-authority-data of cluster "bed" in the kubeconfig is not a PEM-encoded certificate/],
      [['--kubeconfig', kubeconfig({ server: s.url }, {}), '--client-certificate', tls('client.crt'), '--client-key', tls('ca.crt')], /^error: --client-key .*ca\.crt is not a PEM-encoded private key/],
      [['--kubeconfig', kubeconfig({ server: s.url }, {}), '--client-certificate', tls('client.crt'), '--client-key', tls('other.key')], /^error: the client key \(--client-key .*other\.key\) does not belong to the client certificate/],
      [['--kubeconfig', kubeconfig({ server: s.url }, {}), '--client-certificate', '/nonexistent/client.crt', '--client-key', tls('client.key')], /^error: cannot read --client-certificate \/nonexistent\/client\.crt: no such file or directory \(ENOENT\)/],
      [['--kubeconfig', kubeconfig({ server: s.url }, {}), '--client-certificate', tls('client.crt')], /^error: --client-certificate .* is set but no client key; set both/],
    ];
    for (const [args, pattern] of cases) {
      const r = await plan(args);
      assert.equal(r.code, 3, r.err);
      oneLine(r);
      assert.match(r.err, pattern);
      assert.doesNotMatch(r.err, /routines|ERR_OSSL/);
    }
    assert.equal(s.seen.length, 0);
  });
});

describe('bad PEM material: the fix fits where it came from (the flag given, or the kubeconfig)', () => {
  const b64 = (f: string) => readFileSync(tls(f)).toString('base64');
  const cases: Array<[string, 'flag' | 'kubeconfig file' | 'kubeconfig data', (url: string) => string[]]> = [
    ['--certificate-authority', 'flag', (url) => ['--kubeconfig', kubeconfig({ server: url }), '--certificate-authority', tls('client.key')]],
    ['--certificate-authority', 'kubeconfig file', (url) => ['--kubeconfig', kubeconfig({ server: url, 'certificate-authority': tls('client.key') })]],
    ['--certificate-authority', 'kubeconfig data', (url) => ['--kubeconfig', kubeconfig({ server: url, 'certificate-authority-data': b64('client.key') })]],
    ['--client-certificate', 'flag', (url) => ['--kubeconfig', kubeconfig({ server: url }, {}), '--client-certificate', tls('client.key'), '--client-key', tls('client.key')]],
    ['--client-certificate', 'kubeconfig data', (url) => ['--kubeconfig', kubeconfig({ server: url }, { 'client-certificate-data': b64('client.key'), 'client-key': tls('client.key') })]],
    ['--client-key', 'flag', (url) => ['--kubeconfig', kubeconfig({ server: url }, {}), '--client-certificate', tls('client.crt'), '--client-key', tls('ca.crt')]],
    ['--client-key', 'kubeconfig data', (url) => ['--kubeconfig', kubeconfig({ server: url }, { 'client-certificate': tls('client.crt'), 'client-key-data': b64('ca.crt') })]],
  ];
  for (const [flag, source, args] of cases) {
    it(`bad ${flag} material from the ${source}`, async () => {
      const s = await serve(emptyCluster, { cert: 'server.crt', key: 'server.key' });
      const r = await plan(args(s.url));
      assert.equal(r.code, 3, r.err);
      oneLine(r);
      assert.equal(s.seen.length, 0, 'refused before any request');
      if (source === 'flag') {
        assert.ok(r.err.startsWith(`error: ${flag} /`), r.err);
        assert.doesNotMatch(r.err, new RegExp(`or pass ${flag}\\b`), 'not told to pass the flag it passed');
        assert.doesNotMatch(r.err, /kubeconfig/, 'the kubeconfig is not the problem');
        assert.match(r.err, new RegExp(`; pass ${flag} (a|the) `), 'says what the flag needs');
      } else {
        assert.match(r.err, /^error: \S+ .*of (cluster|user) "/);
        assert.match(r.err, new RegExp(`; fix it .*or pass ${flag}\\b`), 'the flag overrides the kubeconfig');
      }
    });
  }
});

describe('answers that are not what a kubectl user expects, in one line each', () => {
  it('401: the reason once, and the fix', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 }));
    });
    const r = await plan(['--kubeconfig', kubeconfig({ server: s.url })]);
    assert.equal(r.code, 4, r.err);
    oneLine(r);
    assert.match(r.err, /^error: GET \/api\/v1\/\S+: 401 Unauthorized; the API server did not accept the credentials of context "bed": renew them/);
    assert.doesNotMatch(r.err, /Unauthorized.*Unauthorized/);
  });

  it('an answer that is not JSON says the server may not be an API server', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('hello, this is a web server');
    });
    const r = await plan(['--server', s.url]);
    assert.equal(r.code, 4, r.err);
    oneLine(r);
    assert.match(r.err, /^error: the server http:\/\/127\.0\.0\.1:\d+ answered GET \/api\/v1\/\S+ with something that is not JSON \(text\/html: "hello, this is a web server"\); is it a Kubernetes API server\? check the server of --server/);
    assert.doesNotMatch(r.err, /Unexpected token/);
  });

  it('a server that never answers: named after half the limit, given up at --request-timeout', async () => {
    const s = await serve(() => {}); // accepts, reads, never answers
    const started = Date.now();
    const r = await plan(['--server', s.url, '--request-timeout', '2s']);
    assert.equal(r.code, 4, r.err);
    const lines = r.err.trimEnd().split('\n');
    assert.equal(lines.length, 2, r.err);
    assert.match(lines[0]!, /^waiting for the API server http:\/\/127\.0\.0\.1:\d+ to answer GET \/api\/v1\/\S+ \(1s so far; gives up after 2s \(--request-timeout\)\)$/);
    assert.match(lines[1]!, /^error: cannot reach the API server http:\/\/127\.0\.0\.1:\d+ of --server http:\/\/127\.0\.0\.1:\d+: no answer to GET \/\S+ within 2s \(--request-timeout\); check it with "kubectl --server http:\/\/127\.0\.0\.1:\d+ cluster-info"$/);
    assert.ok(Date.now() - started < 4000, 'gave up at the limit');
  });
});
