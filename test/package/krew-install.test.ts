// The real krew (built from sigs.k8s.io/krew into the cache by scripts/package/tools.mjs) installs the plugin from
// dist/plugin.yaml and the linux/amd64 archive, and kubectl runs it, completion included. Everything happens in a
// temporary KREW_ROOT and HOME, so the developer's own krew and kubeconfig are untouched, and nothing leaves the
// machine (KREW_NO_UPGRADE_CHECK; a manifest and an archive given locally need no index).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cacheDir } from '../../scripts/package/cache.mjs';
import { krewTools } from '../../scripts/package/tools.mjs';

const REPO = join(import.meta.dirname, '..', '..');
const version = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version as string;
const manifest = join(REPO, 'dist', 'plugin.yaml');
const archive = join(REPO, 'dist', `kubectl-selfhost_v${version}_linux_amd64.tar.gz`);
const kubectl = spawnSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).stdout.trim();
const onLinuxAmd64 = process.platform === 'linux' && process.arch === 'x64';

const skip = (!onLinuxAmd64 && 'installs the linux/amd64 archive, so it runs on linux/amd64 only')
  || (!existsSync(manifest) && 'dist/plugin.yaml is missing: run npm run package first')
  || (!kubectl && 'kubectl is not installed');
const tools = skip ? undefined : await krewTools(cacheDir());

describe('krew install of dist/plugin.yaml', { skip: skip || tools?.missing }, () => {
  const { krew, validate } = tools as { krew: string; validate: string };
  const tmp = mkdtempSync(join(tmpdir(), 'selfhost-krew-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const krewRoot = join(tmp, 'krew');
  const bin = join(tmp, 'bin');
  mkdirSync(bin);
  mkdirSync(join(tmp, 'home'));
  symlinkSync(krew, join(bin, 'kubectl-krew'));
  // krew-index names the manifest after the plugin, and validate-krew-manifest checks that
  const named = join(tmp, 'selfhost.yaml');
  copyFileSync(manifest, named);
  const kubeconfig = join(tmp, 'kubeconfig');
  writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\ncontexts: [{name: kind-bed, context: {cluster: c, user: u}}, {name: prod-eu, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\n');
  const env = {
    PATH: [bin, join(krewRoot, 'bin'), dirname(kubectl), '/usr/bin', '/bin'].join(':'),
    HOME: join(tmp, 'home'),
    KREW_ROOT: krewRoot,
    KREW_NO_UPGRADE_CHECK: '1',
    KUBECONFIG: kubeconfig,
    NO_COLOR: '1',
  };
  const sh = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { env, cwd: tmp, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  it('passes krew\'s own validate-krew-manifest', () => {
    const r = sh(validate, ['-manifest', named, '-skip-install']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /structural validation OK/);
    assert.match(r.err, /no overlapping spec.platform\[\].selector/);
  });

  it('kubectl krew install --manifest --archive installs it, with its LICENSE', () => {
    const r = sh('kubectl', ['krew', 'install', `--manifest=${named}`, `--archive=${archive}`]);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out + r.err, /Installed plugin: selfhost/);
    const store = join(krewRoot, 'store', 'selfhost', `v${version}`);
    for (const f of ['kubectl-selfhost', 'kubectl_complete-selfhost', 'LICENSE']) assert.ok(existsSync(join(store, f)), `${f} in ${store}`);
    // list and uninstall want a local index; the default one is a clone from GitHub, so an empty one stands in
    mkdirSync(join(krewRoot, 'index', 'default', '.git'), { recursive: true });
    const list = sh('kubectl', ['krew', 'list']);
    assert.match(list.out, /^(detached\/)?selfhost$/m, list.out + list.err);
  });

  it('kubectl selfhost version (and -o json) prints version, commit and Node version', () => {
    const text = sh('kubectl', ['selfhost', 'version']);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, new RegExp(`^kubectl-selfhost ${version.replaceAll('.', '\\.')} \\(commit \\w+, node v\\d+\\.\\d+\\.\\d+, linux/x64; node helper: amd64, arm64\\)\\n$`));
    const json = JSON.parse(sh('kubectl', ['selfhost', 'version', '-o', 'json']).out);
    assert.deepEqual(Object.keys(json), ['version', 'commit', 'node', 'platform', 'nodeHelper']);
    assert.equal(json.version, version);
  });

  it('kubectl selfhost plan --manifests-dir works from the installed plugin', () => {
    const r = sh('kubectl', ['selfhost', 'plan', '--manifests-dir', join(REPO, 'test', 'fixtures', 'kubeadm', 'v1.34.4')]);
    assert.equal(r.code, 1, r.err);
    assert.match(r.out, /kube-apiserver: pivot/);
  });

  it('kubectl completes the plugin through kubectl_complete-selfhost installed as the caveats say', () => {
    copyFileSync(join(krewRoot, 'store', 'selfhost', `v${version}`, 'kubectl_complete-selfhost'), join(krewRoot, 'bin', 'kubectl_complete-selfhost'));
    const comp = (...words: string[]) => {
      const r = sh('kubectl', ['__complete', 'selfhost', ...words]);
      assert.equal(r.code, 0, r.err);
      return r.out.split('\n').filter(Boolean);
    };
    assert.deepEqual(comp('p').map((l) => l.split('\t')[0]), ['plan', 'pivot', ':4']);
    assert.deepEqual(comp('plan', '--context', ''), ['kind-bed', 'prod-eu', ':4']);
    assert.deepEqual(comp('pivot', '--components', 'kube-apiserver,kube-s'), ['kube-apiserver,kube-scheduler', ':4']);
    assert.ok(comp('plan', '--manifests').some((l) => l.startsWith('--manifests-dir\t')));
  });

  it('kubectl krew uninstall removes it', () => {
    const r = sh('kubectl', ['krew', 'uninstall', 'selfhost']);
    assert.equal(r.code, 0, r.err);
    assert.ok(!existsSync(join(krewRoot, 'bin', 'kubectl-selfhost')));
  });
});
