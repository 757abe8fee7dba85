import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { run } from '../../src/cli.ts';
import { parseAll } from '../../src/core/yaml.ts';
import { bufferIo, FIXTURES } from './helpers.ts';

const manifests = join(FIXTURES, 'kubeadm', 'v1.34.4');

function kubeconfig(server: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'selfhost-kc-'));
  const file = join(dir, 'config');
  writeFileSync(file, `apiVersion: v1
kind: Config
current-context: bed
clusters: [{name: bed, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: not-a-real-token}}]
contexts: [{name: bed, context: {cluster: bed, user: admin}}, {name: other, context: {cluster: bed, user: admin}}]
`);
  return file;
}

async function cli(args: string[], env: NodeJS.ProcessEnv = {}, tty = false) {
  const io = bufferIo(env, tty);
  const code = await run(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

function oneLineError(r: { err: string }, pattern: RegExp) {
  assert.match(r.err, pattern);
  assert.equal(r.err.trimEnd().split('\n').length, 1, `one line, got: ${r.err}`);
  assert.match(r.err, /^error: [a-z"/-]/, 'starts lower-case');
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
}

describe('kubectl selfhost plan (offline)', () => {
  it('prints the source first, the diff and steps, exit 1 when changes are planned', async () => {
    const r = await cli(['plan', '--manifests-dir', manifests]);
    assert.equal(r.code, 1);
    assert.match(r.out.split('\n')[0]!, /^Source: manifests directory .*v1\.34\.4 \(offline/);
    assert.match(r.out, /\+\s+- --permit-port-sharing=true/);
    assert.match(r.out, /Steps "kubectl selfhost pivot" would take:/);
    assert.match(r.out, /etcd stays a static pod/);
    assert.doesNotMatch(r.out, /\x1b\[/, 'no colour when not a terminal');
  });

  it('-o yaml prints three apps/v1 DaemonSets in kube-system', async () => {
    const r = await cli(['plan', '--manifests-dir', manifests, '-o', 'yaml']);
    const docs = parseAll(r.out) as Array<{ apiVersion: string; kind: string; metadata: { name: string; namespace: string } }>;
    assert.deepEqual(docs.map((d) => [d.apiVersion, d.kind, d.metadata.namespace, d.metadata.name]), [
      ['apps/v1', 'DaemonSet', 'kube-system', 'kube-scheduler'],
      ['apps/v1', 'DaemonSet', 'kube-system', 'kube-controller-manager'],
      ['apps/v1', 'DaemonSet', 'kube-system', 'kube-apiserver'],
    ]);
  });

  it('-o json prints the versioned plan', async () => {
    const r = await cli(['plan', '--manifests-dir', manifests, '-o', 'json', '--components', 'apiserver']);
    const plan = JSON.parse(r.out);
    assert.equal(plan.apiVersion, 'kubectl-selfhost.dev/v1alpha1');
    assert.equal(plan.kind, 'Plan');
    assert.deepEqual(plan.components.map((c: { component: string }) => c.component), ['kube-apiserver']);
  });

  it('colours with --color always and on a terminal, never with NO_COLOR', async () => {
    assert.match((await cli(['plan', '--manifests-dir', manifests, '--color', 'always'])).out, /\x1b\[32m\+/);
    assert.match((await cli(['plan', '--manifests-dir', manifests], {}, true)).out, /\x1b\[/);
    assert.doesNotMatch((await cli(['plan', '--manifests-dir', manifests], { NO_COLOR: '1' }, true)).out, /\x1b\[/);
  });
});

describe('bad input: one line, exit > 1, nothing changed', () => {
  const cases: Array<[string, string[], number, RegExp]> = [
    ['missing manifests dir', ['plan', '--manifests-dir', '/nonexistent/manifests'], 3, /cannot read --manifests-dir .*pass a kubeadm static pod directory/],
    ['unparseable YAML', ['plan', '--manifests-dir', join(FIXTURES, 'bad', 'invalid-yaml')], 3, /kube-apiserver\.yaml: invalid YAML .*fix the file/],
    ['two manifests for one component', ['plan', '--manifests-dir', join(FIXTURES, 'corpus', 'two-apiservers-v1.29')], 3, /kube-apiserver-ext-etcd\.yaml and kube-apiserver\.yaml are both kube-apiserver/],
    ['unknown component', ['plan', '--manifests-dir', manifests, '--components', 'etcd'], 2, /unknown component "etcd"/],
    ['unknown flag', ['plan', '--bogus'], 2, /unknown argument: bogus .*--help/],
    ['bad request timeout', ['plan', '--request-timeout', 'soon'], 2, /invalid --request-timeout "soon"/],
    ['missing kubeconfig', ['plan', '--kubeconfig', '/nonexistent/kubeconfig'], 3, /kubeconfig \/nonexistent\/kubeconfig does not exist/],
    ['no command', [], 2, /name a command/],
  ];
  for (const [name, args, code, pattern] of cases) {
    it(name, async () => {
      const r = await cli(args, { HOME: '/nonexistent' });
      assert.equal(r.code, code, r.err);
      oneLineError(r, pattern);
      assert.equal(r.out, '');
    });
  }

  it('unknown --context lists the known ones', async () => {
    const r = await cli(['plan', '--kubeconfig', kubeconfig('https://127.0.0.1:1'), '--context', 'nope']);
    assert.equal(r.code, 3);
    oneLineError(r, /context "nope" not found in the kubeconfig \(known: bed, other\)/);
  });

  it('no kubeconfig at all names where it looked', async () => {
    const r = await cli(['plan'], { HOME: '/nonexistent' });
    assert.equal(r.code, 3);
    oneLineError(r, /no kubeconfig found \(looked at \/nonexistent\/\.kube\/config\); set KUBECONFIG, pass --kubeconfig, or pass --server/);
  });

  it('an unreachable API server names the context and the check to run', async () => {
    const r = await cli(['plan', '--kubeconfig', kubeconfig('https://127.0.0.1:1')]);
    assert.equal(r.code, 4);
    oneLineError(r, /cannot reach the API server https:\/\/127\.0\.0\.1:1 of context "bed": connection refused: nothing listens there; check it with "kubectl --context bed cluster-info"/);
  });

  it('KUBECONFIG with several files merges them, first file wins', async () => {
    const first = kubeconfig('https://127.0.0.1:1');
    const r = await cli(['plan', '--context', 'other'], { KUBECONFIG: `/nonexistent/a:${first}` });
    assert.equal(r.code, 4, r.err);
    oneLineError(r, /of context "other"/);
  });

  it('a stack trace only with -v 6', async () => {
    const r = await cli(['plan', '--manifests-dir', '/nonexistent', '-v', '6']);
    assert.match(r.err, /\n\s+at /);
  });
});
