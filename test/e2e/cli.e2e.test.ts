// kubectl's connection flags against the real kube-apiserver of the test bed: impersonation headers as the
// apiserver reads them, --server/--token without a kubeconfig, --tls-server-name, and the one-line errors a real
// 401 and 403 give. Read-only (plan and status); runs on the bed as kubeadm made it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { BIN, KUBECONFIG, kubectl } from './helpers.ts';

function selfhost(args: string[], env: NodeJS.ProcessEnv = { KUBECONFIG }) {
  const r = spawnSync(BIN, args, { env: { PATH: process.env['PATH'], HOME: process.env['HOME'], NO_COLOR: '1', ...env }, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const oneLine = (err: string) => assert.equal(err.trimEnd().split('\n').length, 1, err);

describe('kubectl connection flags on the real API server', { concurrency: 1 }, () => {
  const server = kubectl(['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}']);

  it('--as: the apiserver answers as the impersonated user (a 403, one line, exit 4)', () => {
    const r = selfhost(['plan', '--as', 'system:anonymous']);
    assert.equal(r.code, 4, r.err);
    oneLine(r.err);
    assert.match(r.err, /^error: GET \/\S+: 403 Forbidden: [^\n]+ is forbidden: User "system:anonymous" cannot/);
  });

  it('--as with two --as-group: both groups reach the apiserver (system:masters makes the plan work)', () => {
    const r = selfhost(['plan', '-o', 'json', '--as', 'selfhost-e2e', '--as-group', 'system:authenticated', '--as-group', 'system:masters']);
    assert.equal(r.code, 1, r.err);
    assert.equal(JSON.parse(r.out).kind, 'Plan');
  });

  it('--server and --token without a kubeconfig: a refused token is one line with the fix', () => {
    const r = selfhost(['status', '--server', server, '--insecure-skip-tls-verify', '--token', 'not-a-token'], { KUBECONFIG: '/nonexistent/kubeconfig' });
    assert.equal(r.code, 4, r.err);
    oneLine(r.err);
    assert.match(r.err, /401 Unauthorized; the API server did not accept the credentials of --server https:\S+: renew them/);
    assert.doesNotMatch(r.err, /Unauthorized.*Unauthorized/);
  });

  it('--server by address with --tls-server-name kubernetes (a name kubeadm puts in the certificate)', () => {
    const r = selfhost(['plan', '-o', 'json', '--server', server, '--tls-server-name', 'kubernetes']);
    assert.equal(r.code, 1, r.err);
  });
});
