// plugin.yaml against krew's rules: the committed manifest, the one `npm run package` rendered into dist/ together
// with the archives it names (sums, LICENSE, bin and files inside), and the rule checker itself on broken copies.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { load } from 'js-yaml';
import { readArchive } from '../../scripts/package/archive.mjs';
import { installedFiles, krewProblems, LICENSE_FILES, type Manifest, type Platform } from './krew-rules.ts';

const REPO = join(import.meta.dirname, '..', '..');
const DIST = join(REPO, 'dist');
const version = `v${JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version}`;
const SHIPPED = [['linux', 'amd64'], ['linux', 'arm64'], ['darwin', 'amd64'], ['darwin', 'arm64'], ['windows', 'amd64']];

const manifest = (file: string) => load(readFileSync(file, 'utf8')) as Manifest;
const osArch = (p: Platform) => `${p.selector?.matchLabels?.['os']}/${p.selector?.matchLabels?.['arch']}`;

function checkShape(m: Manifest) {
  assert.deepEqual(krewProblems('selfhost', m), []);
  assert.equal(m.spec?.version, version, 'the manifest is for package.json\'s version (npm run package -- --update-plugin-yaml)');
  assert.deepEqual(m.spec!.platforms!.map(osArch).sort(), SHIPPED.map(([os, arch]) => `${os}/${arch}`).sort(), 'one platform per shipped os/arch');
  for (const p of m.spec!.platforms!) {
    assert.match(p.uri!, /^https:\/\//);
    assert.ok(p.uri!.includes(version), `${p.uri} names the version`);
    assert.ok(m.spec!.homepage && p.uri!.startsWith(m.spec!.homepage), `${p.uri} lives under the homepage`);
  }
  assert.ok(m.spec?.description && m.spec.caveats, 'description and caveats');
}

describe('plugin.yaml (committed)', () => {
  it('follows krew\'s rules and names the five platforms of this version', () => checkShape(manifest(join(REPO, 'plugin.yaml'))));

  it('is a rendering of plugin.yaml.tmpl (same text apart from the filled placeholders)', () => {
    const rendered = readFileSync(join(REPO, 'plugin.yaml'), 'utf8').split('\n').filter((l) => !l.startsWith('#'));
    const template = readFileSync(join(REPO, 'plugin.yaml.tmpl'), 'utf8').split('\n').filter((l) => !l.startsWith('##'));
    assert.equal(rendered.length, template.length);
    template.forEach((line, i) => {
      const pattern = new RegExp(`^${line.split(/\{\{[^}]*\}\}/).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.+')}$`);
      assert.match(rendered[i]!, pattern);
    });
  });
});

describe('dist/plugin.yaml and the archives (npm run package)', () => {
  const file = join(DIST, 'plugin.yaml');

  it('follows krew\'s rules; every archive exists, matches its sha256 and holds the bin, the files and a LICENSE', { skip: !existsSync(file) && 'run npm run package first' }, () => {
    const m = manifest(file);
    checkShape(m);
    const sums = readFileSync(join(DIST, 'sha256sums.txt'), 'utf8');
    for (const p of m.spec!.platforms!) {
      const archive = join(DIST, p.uri!.split('/').at(-1)!);
      assert.ok(existsSync(archive), `${archive} exists`);
      const sha = createHash('sha256').update(readFileSync(archive)).digest('hex');
      assert.equal(p.sha256, sha, `sha256 of ${archive}`);
      assert.ok(sums.includes(`${sha}  ${p.uri!.split('/').at(-1)}\n`), 'listed in sha256sums.txt');
      const entries = readArchive(archive);
      const names = entries.map((e) => e.name);
      assert.ok(names.some((n) => LICENSE_FILES.has(n.split('/').at(-1)!.toLowerCase())), `a license file in ${archive}: ${names}`);
      for (const f of p.files ?? []) assert.ok(installedFiles({ files: [f] }, names).length > 0, `files.from ${f.from} matches something in ${archive}`);
      const installed = installedFiles(p, names);
      assert.ok(installed.includes(p.bin!), `bin ${p.bin} is installed from ${archive} (${installed})`);
      const bin = entries.find((e) => e.name.split('/').at(-1) === p.bin)!;
      assert.equal(bin.mode & 0o111, 0o111, 'bin is executable');
      assert.equal(entries.find((e) => e.name === 'LICENSE')?.content().toString('utf8'), readFileSync(join(REPO, 'LICENSE'), 'utf8'), 'the repository\'s LICENSE');
    }
  });
});

describe('krew rule checker', () => {
  const good = (): Manifest => ({
    apiVersion: 'krew.googlecontainertools.github.com/v1alpha2',
    kind: 'Plugin',
    metadata: { name: 'selfhost' },
    spec: {
      version: 'v0.1.0',
      shortDescription: 'x',
      platforms: [
        { selector: { matchLabels: { os: 'linux', arch: 'amd64' } }, uri: 'https://x/a.tar.gz', sha256: 'a'.repeat(64), bin: 'kubectl-selfhost' },
        { selector: { matchLabels: { os: 'windows', arch: 'amd64' } }, uri: 'https://x/a.zip', sha256: 'b'.repeat(64), bin: 'kubectl-selfhost.exe' },
      ],
    },
  });
  const broken = (edit: (m: Manifest) => void) => {
    const m = good();
    edit(m);
    return krewProblems('selfhost', m).join('; ');
  };

  it('accepts a minimal good manifest', () => assert.deepEqual(krewProblems('selfhost', good()), []));
  it('rejects a name other than the file name', () => assert.match(broken((m) => (m.metadata!.name = 'self-host')), /should be named selfhost/));
  it('rejects a version without v or not semver', () => {
    assert.match(broken((m) => (m.spec!.version = '0.1.0')), /not semver/);
    assert.match(broken((m) => (m.spec!.version = 'v0.1')), /not semver/);
  });
  it('rejects upper-case or short sha256', () => {
    assert.match(broken((m) => (m.spec!.platforms![0]!.sha256 = 'A'.repeat(64))), /sha256/);
    assert.match(broken((m) => (m.spec!.platforms![0]!.sha256 = 'a'.repeat(63))), /sha256/);
  });
  it('rejects selector keys other than os and arch, and empty selectors', () => {
    assert.match(broken((m) => (m.spec!.platforms![0]!.selector!.matchLabels!['libc'] = 'musl')), /libc is not supported/);
    assert.match(broken((m) => (m.spec!.platforms![0]!.selector = {})), /empty selector/);
  });
  it('rejects overlapping platforms', () => {
    assert.match(broken((m) => m.spec!.platforms!.push({ selector: { matchExpressions: [{ key: 'os', operator: 'In', values: ['linux'] }] }, uri: 'u', sha256: 'c'.repeat(64), bin: 'b' })), /overlap on linux\/amd64/);
  });
  it('rejects a Windows bin without .exe, empty files and files without to', () => {
    assert.match(broken((m) => (m.spec!.platforms![1]!.bin = 'kubectl-selfhost')), /\.exe/);
    assert.match(broken((m) => (m.spec!.platforms![0]!.files = [])), /files is empty/);
    assert.match(broken((m) => (m.spec!.platforms![0]!.files = [{ from: 'x' }])), /needs from and to/);
  });
  it('rejects a multi-line shortDescription and a missing uri or bin', () => {
    assert.match(broken((m) => (m.spec!.shortDescription = 'a\nb')), /line break/);
    assert.match(broken((m) => delete m.spec!.platforms![0]!.uri), /no uri/);
    assert.match(broken((m) => delete m.spec!.platforms![0]!.bin), /no bin/);
  });
});
