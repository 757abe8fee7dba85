// The bundle keeps @kubernetes/client-node in a second file (scripts/build.mjs) that only verbs talking to a
// cluster load: a preloaded hook on Node's module loader records whether that file was required.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const REPO = join(import.meta.dirname, '..', '..');
const bundle = join(REPO, 'dist', 'kubectl-selfhost.cjs');
const dir = mkdtempSync(join(tmpdir(), 'selfhost-lazy-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const hook = join(dir, 'hook.cjs');
writeFileSync(hook, `
const Module = require('node:module');
const load = Module._load;
Module._load = function (request, ...rest) {
  if (String(request).endsWith('kubectl-selfhost.client-node.cjs')) process.stderr.write('[client-node loaded]\\n');
  return load.call(this, request, ...rest);
};
`);
const kubeconfig = join(dir, 'config');
writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n');

function loadsClientNode(args: string[]): boolean {
  const r = spawnSync(process.execPath, ['--require', hook, bundle, ...args], { cwd: REPO, encoding: 'utf8', timeout: 60_000, env: { ...process.env, KUBECONFIG: kubeconfig } });
  return r.stderr.includes('[client-node loaded]');
}

describe('lazy loading of client-node', { skip: !existsSync(bundle) && 'run npm run build first' }, () => {
  for (const args of [['--help'], ['version', '-o', 'json'], ['plan', '--manifests-dir', 'test/fixtures/kubeadm/v1.34.4'], ['rbac', '--bind-user', 'alice'], ['__complete', 'plan', '--context', '']]) {
    it(`${args.join(' ')} does not load it`, () => assert.equal(loadsClientNode(args), false));
  }
  it('status, which reads the kubeconfig with it, does', () => assert.equal(loadsClientNode(['status', '--request-timeout', '5s']), true));
});
