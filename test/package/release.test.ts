// The release path: .github/workflows/release.yml publishes what `npm run package` builds to the GitHub release
// of the tag, plugin.yaml's URIs are that release's download paths, and .krew.yaml (krew-release-bot's template)
// renders to the same manifest. Both manifests pass krew's own validate-krew-manifest (built from the Go module
// sigs.k8s.io/krew into the cache), and krew installs every platform's archive from them, offline.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { load } from 'js-yaml';
import { cacheDir } from '../../scripts/package/cache.mjs';
import { DEFAULT_RELEASE_URL, renderKrewBotTemplate } from '../../scripts/package/manifest.mjs';
import { archiveForTag, archiveName, TARGETS } from '../../scripts/package/targets.mjs';
import { krewTools, krewValidator } from '../../scripts/package/tools.mjs';
import { renderLikeKrewReleaseBot } from './krew-bot.ts';
import type { Manifest } from './krew-rules.ts';

const REPO = join(import.meta.dirname, '..', '..');
const DIST = join(REPO, 'dist');
const version = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version as string;
const tag = `v${version}`;
const template = readFileSync(join(REPO, 'plugin.yaml.tmpl'), 'utf8');
const homepage = /^ {2}homepage: (\S+)$/m.exec(template)![1]!;
const workflow = load(readFileSync(join(REPO, '.github', 'workflows', 'release.yml'), 'utf8')) as {
  on: { push: { tags: string[] } };
  permissions: Record<string, string>;
  jobs: Record<string, { steps: Array<{ name?: string; run?: string; uses?: string; if?: string }> }>;
};
const steps = Object.values(workflow.jobs)[0]!.steps;
const tmp = mkdtempSync(join(tmpdir(), 'selfhost-release-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** GitHub's filter pattern (tags:) and a shell glob (gh's file list) as regular expressions, for what they use. */
const githubPattern = (p: string) => new RegExp(`^${p.replace(/\./g, '\\.').replace(/\*/g, '.*')}$`);
const shellGlob = (p: string) => new RegExp(`^${p.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
const stepIndex = (match: (s: (typeof steps)[number]) => boolean) => steps.findIndex(match);

describe('release workflow', () => {
  const publish = steps.find((s) => s.run?.includes('gh release create'));

  it('runs on a tag of this version, and refuses a tag package.json does not name', () => {
    assert.ok(workflow.on.push.tags.some((p) => githubPattern(p).test(tag)), `${workflow.on.push.tags} matches ${tag}`);
    assert.ok(!workflow.on.push.tags.some((p) => githubPattern(p).test('latest')));
    assert.ok(steps.some((s) => s.run?.includes('"$GITHUB_REF_NAME" != "$version"')));
    assert.equal(workflow.permissions['contents'], 'write');
  });

  it('builds and checks with npm run test:package before publishing, then asks krew-release-bot', () => {
    const build = stepIndex((s) => s.run?.trim() === 'npm run test:package');
    const pub = stepIndex((s) => s === publish);
    const bot = stepIndex((s) => /^rajatjindal\/krew-release-bot@v\d+\.\d+\.\d+$/.test(s.uses ?? ''));
    assert.ok(build >= 0 && pub > build && bot > pub, `order: test:package ${build}, publish ${pub}, bot ${bot}`);
    assert.match(steps[bot]!.if ?? '', /contains\(github\.ref_name, '-'\)/, 'pre-releases are not sent to krew-index');
  });

  it('uploads every archive, its .sha256, sha256sums.txt and plugin.yaml', () => {
    const files = publish!.run!.split(/\s+/).filter((w) => w.startsWith('dist/')).map(shellGlob);
    const expected = [...TARGETS.flatMap((t) => [archiveName(t, version), `${archiveName(t, version)}.sha256`]), 'sha256sums.txt', 'plugin.yaml'];
    for (const f of expected) assert.ok(files.some((re) => re.test(`dist/${f}`)), `dist/${f} is uploaded`);
    assert.match(publish!.run!, /gh release create "\$GITHUB_REF_NAME"/);
  });

  it('checks that plugin.yaml\'s homepage is the repository it releases from (so the URIs are real)', () => {
    assert.ok(steps.some((s) => s.run?.includes('"$homepage" != "$GITHUB_SERVER_URL/$GITHUB_REPOSITORY"')));
    assert.equal(DEFAULT_RELEASE_URL, `${homepage}/releases/download/{{version}}`);
  });

  it('plugin.yaml\'s URIs are the download paths of that release\'s assets', () => {
    const m = load(readFileSync(join(REPO, 'plugin.yaml'), 'utf8')) as Manifest;
    const uris = m.spec!.platforms!.map((p) => p.uri);
    assert.deepEqual(uris.sort(), TARGETS.map((t) => `${homepage}/releases/download/${tag}/${archiveName(t, version)}`).sort());
  });
});

describe('.krew.yaml (krew-release-bot\'s template)', () => {
  const bot = readFileSync(join(REPO, '.krew.yaml'), 'utf8');

  it('is generated from plugin.yaml.tmpl (npm run package -- --update-plugin-yaml)', () => {
    const archives = Object.fromEntries(TARGETS.map((t) => [`${t.os}/${t.arch}`, archiveForTag(t, '{{ .TagName }}')]));
    assert.equal(bot, renderKrewBotTemplate(template, { releaseUrl: DEFAULT_RELEASE_URL, archives }));
  });

  it('puts each addURIAndSha where its four-space sha256 line lands under the uri', () => {
    const calls = bot.split('\n').filter((l) => l.includes('addURIAndSha'));
    assert.equal(calls.length, TARGETS.length);
    for (const l of calls) assert.match(l, /^ {4}\{\{ addURIAndSha "https:\/\/\S+\/releases\/download\/\{\{ \.TagName \}\}\/kubectl-selfhost_\{\{ \.TagName \}\}_\w+_\w+\.(tar\.gz|zip)" \.TagName \}\}$/);
  });

  const built = existsSync(join(DIST, 'plugin.yaml')) || 'run npm run package first';
  it('renders, as the bot would for this version\'s tag, to exactly dist/plugin.yaml', { skip: built !== true && built }, () => {
    const rendered = renderLikeKrewReleaseBot(bot, tag, (url) => createHash('sha256').update(readFileSync(join(DIST, url.split('/').at(-1)!))).digest('hex'));
    const manifest = readFileSync(join(DIST, 'plugin.yaml'), 'utf8').split('\n').filter((l) => !l.startsWith('# ')).join('\n');
    assert.equal(rendered, manifest);
  });
});

describe('krew\'s validate-krew-manifest', async () => {
  const skip = (!existsSync(join(DIST, 'plugin.yaml')) && 'dist/plugin.yaml is missing: run npm run package first') || false;
  const validator = skip ? undefined : await krewValidator(cacheDir());

  const validate = (yaml: string, where: string) => {
    // krew-index names the file after the plugin, and the validator checks that
    const d = join(tmp, where);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'selfhost.yaml'), yaml);
    // -skip-install: its install step downloads each uri (GitHub); the offline installs below stand in for it
    return spawnSync((validator as { path: string }).path, ['-manifest', join(d, 'selfhost.yaml'), '-skip-install'], { encoding: 'utf8', timeout: 60_000 });
  };

  it('accepts dist/plugin.yaml and the .krew.yaml rendered for a test tag', { skip: skip || validator?.missing }, () => {
    const sha = (url: string) => createHash('sha256').update(readFileSync(join(DIST, url.split('/').at(-1)!))).digest('hex');
    for (const [where, yaml] of [['plugin', readFileSync(join(DIST, 'plugin.yaml'), 'utf8')], ['bot', renderLikeKrewReleaseBot(readFileSync(join(REPO, '.krew.yaml'), 'utf8'), tag, sha)]] as const) {
      const r = validate(yaml, where);
      assert.equal(r.status, 0, `${where}: ${r.stderr}`);
      assert.match(r.stderr, /structural validation OK/);
      assert.match(r.stderr, /all spec.platform\[\] items are used/);
      assert.match(r.stderr, /no overlapping spec.platform\[\].selector/);
    }
  });

  it('refuses a broken manifest (so that the checks above can fail)', { skip: skip || validator?.missing }, () => {
    const broken = readFileSync(join(DIST, 'plugin.yaml'), 'utf8').replace(/^ {2}version: v.*$/m, '  version: 0.1');
    const r = validate(broken, 'broken');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /version/);
  });
});

describe('krew installs every platform from the manifest and its archive (validate-krew-manifest\'s install step, offline)', async () => {
  const skip = (!existsSync(join(DIST, 'plugin.yaml')) && 'run npm run package first') || false;
  const tools = skip ? undefined : await krewTools(cacheDir());
  for (const t of TARGETS) {
    it(`${t.os}/${t.arch}`, { skip: skip || tools?.missing }, () => {
      const { krew } = tools as { krew: string };
      const root = join(tmp, `krew-${t.os}-${t.arch}`);
      const manifest = join(tmp, 'selfhost.yaml');
      writeFileSync(manifest, readFileSync(join(DIST, 'plugin.yaml')));
      const r = spawnSync(krew, ['install', `--manifest=${manifest}`, `--archive=${join(DIST, archiveName(t, version))}`], {
        encoding: 'utf8', timeout: 120_000,
        env: { PATH: process.env['PATH'], HOME: tmp, KREW_ROOT: root, KREW_OS: t.os, KREW_ARCH: t.arch, KREW_NO_UPGRADE_CHECK: '1' },
      });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      const store = join(root, 'store', 'selfhost', tag);
      for (const f of ['LICENSE', t.os === 'windows' ? 'kubectl-selfhost.exe' : 'kubectl-selfhost']) assert.ok(existsSync(join(store, f)), `${f} in ${store}`);
    });
  }
});
