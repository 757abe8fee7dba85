// npm run package: from a clean checkout, with nothing but the package registries, builds into dist/
//   bin/<os>-<arch>/kubectl-selfhost[.exe]          single executables (Node SEA, via @yao-pkg/pkg)
//   kubectl-selfhost_v<version>_<os>_<arch>.tar.gz  krew's archives (.zip for Windows): executable, completion
//                                                   helper, LICENSE
//   <archive>.sha256, sha256sums.txt                lowercase sha256 sums
//   plugin.yaml                                     the krew manifest rendered from plugin.yaml.tmpl
// Flags: --update-plugin-yaml   also write the rendered manifest to ./plugin.yaml (the committed copy) and
//                               krew-release-bot's template to ./.krew.yaml
//        --targets os/arch,...  build a subset (development only: plugin.yaml needs every platform)
// Environment: SELFHOST_RELEASE_URL (where the release step uploads the archives; {{version}} is replaced),
//              SOURCE_DATE_EPOCH (archive timestamps; default: the commit's time), SELFHOST_CACHE (cache.mjs).
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, createReadStream, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cacheDir, log } from './cache.mjs';
import { writeTarGz, writeZip } from './archive.mjs';
import { DEFAULT_RELEASE_URL, renderKrewBotTemplate, renderManifest } from './manifest.mjs';
import { seedPkgCache } from './node-base.mjs';
import { archiveForTag, archiveName, binDir, completionName, exeName, TARGETS } from './targets.mjs';
import { rcodesign } from './tools.mjs';

const root = join(import.meta.dirname, '..', '..');
process.chdir(root);
const started = Date.now();
const { values: flags } = parseArgs({ options: { 'update-plugin-yaml': { type: 'boolean' }, targets: { type: 'string' } } });

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const version = pkg.version;
const nodeVersion = process.versions.node;
if (pkg.devDependencies?.node && pkg.devDependencies.node !== nodeVersion) {
  throw new Error(`run through npm (npm run package) so that the project's Node ${pkg.devDependencies.node} builds the executables, not ${nodeVersion}`);
}
const targets = flags.targets ? flags.targets.split(',').map((name) => TARGETS.find((t) => `${t.os}/${t.arch}` === name) ?? fail(`unknown target ${name}`)) : TARGETS;
if (flags['update-plugin-yaml'] && targets.length !== TARGETS.length) fail('--update-plugin-yaml needs every target');
const mtime = Number(process.env.SOURCE_DATE_EPOCH ?? gitCommitTime());
const cache = cacheDir();

step('bundle (scripts/build.mjs)', () => execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' }));
if (!existsSync(join('dist', 'node-helper', 'SHA256SUMS'))) fail('dist/node-helper is missing: a release carries the node helper; install Go >= 1.24 and run again');
for (const stale of readdirSync('dist')) if (/^kubectl-selfhost_v|\.sha256$|^sha256sums|^plugin\.yaml$|^bin$/.test(stale)) rmSync(join('dist', stale), { recursive: true });

const pkgHome = await seedPkgCache(targets, nodeVersion, cache);
await buildExecutables();
await signMacOS();
const platforms = Object.fromEntries(await Promise.all(targets.map(async (t) => [`${t.os}/${t.arch}`, await archive(t)])));
writeFileSync('dist/sha256sums.txt', Object.values(platforms).map((p) => `${p.sha256}  ${p.archive}\n`).join(''));
if (targets.length === TARGETS.length) {
  const manifest = renderManifest(readFileSync('plugin.yaml.tmpl', 'utf8'), { version: `v${version}`, releaseUrl: process.env.SELFHOST_RELEASE_URL ?? DEFAULT_RELEASE_URL, platforms });
  writeFileSync('dist/plugin.yaml', manifest);
  const bot = renderKrewBotTemplate(readFileSync('plugin.yaml.tmpl', 'utf8'), { releaseUrl: process.env.SELFHOST_RELEASE_URL ?? DEFAULT_RELEASE_URL, archives: Object.fromEntries(TARGETS.map((t) => [`${t.os}/${t.arch}`, archiveForTag(t, '{{ .TagName }}')])) });
  writeFileSync('dist/.krew.yaml', bot);
  if (flags['update-plugin-yaml']) {
    copyFileSync('dist/plugin.yaml', 'plugin.yaml');
    copyFileSync('dist/.krew.yaml', '.krew.yaml');
  }
} else {
  log('dist/plugin.yaml not written: it needs every target');
}
for (const t of targets) {
  const p = platforms[`${t.os}/${t.arch}`];
  log(`${t.os}/${t.arch}: ${mb(join(binDir(t), exeName(t)))} executable, ${mb(join('dist', p.archive))} ${p.archive}`);
}
log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);

async function buildExecutables() {
  const hostPlatform = { darwin: 'macos', win32: 'win' }[process.platform] ?? process.platform;
  const jobs = targets.map((t) => ({
    main: join(root, 'dist', 'kubectl-selfhost.cjs'),
    assets: {
      'kubectl-selfhost.client-node.cjs': join(root, 'dist', 'kubectl-selfhost.client-node.cjs'),
      // The node helper (src/ports/node-helper.ts reads these names); npm run build made them.
      'node-helper-linux-amd64.gz': join(root, 'dist', 'node-helper', 'node-helper-linux-amd64.gz'),
      'node-helper-linux-arm64.gz': join(root, 'dist', 'node-helper', 'node-helper-linux-arm64.gz'),
      'node-helper-SHA256SUMS': join(root, 'dist', 'node-helper', 'SHA256SUMS'),
    },
    nodeVersion,
    useCodeCache: t.pkgPlatform === hostPlatform && t.pkgArch === process.arch,
    targets: [{ platform: t.pkgPlatform, arch: t.pkgArch, output: join(root, binDir(t), exeName(t)) }],
  }));
  const t0 = Date.now();
  log(`single executables for ${targets.map((t) => `${t.os}/${t.arch}`).join(', ')} (pkg --sea)...`);
  const run = async (job, i) => {
    const jobFile = join(tmpdir(), `selfhost-sea-${process.pid}-${i}.json`);
    writeFileSync(jobFile, JSON.stringify(job));
    try {
      await spawnChecked(process.execPath, [join(import.meta.dirname, 'sea.mjs'), jobFile], { HOME: pkgHome });
    } finally {
      rmSync(jobFile, { force: true });
    }
  };
  const queue = jobs.map((job, i) => () => run(job, i));
  await Promise.all(Array.from({ length: Math.min(availableParallelism(), queue.length) }, async () => {
    for (let next = queue.shift(); next; next = queue.shift()) await next();
  }));
  log(`single executables: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

function spawnChecked(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`})`))));
  });
}

async function signMacOS() {
  const macs = targets.filter((t) => t.os === 'darwin');
  if (macs.length === 0) return;
  const tool = await rcodesign(cache);
  if (tool.missing) fail(`cannot sign the macOS executables: ${tool.missing}`);
  for (const t of macs) {
    step(`ad-hoc signature for ${t.os}/${t.arch} (rcodesign)`, () => execFileSync(tool.path, ['sign', join(binDir(t), exeName(t))], { stdio: 'pipe' }));
  }
}

async function archive(t) {
  const name = archiveName(t, version);
  const entries = [
    { name: exeName(t), file: join(binDir(t), exeName(t)), mode: 0o755 },
    { name: completionName(t), file: join('src', 'completion', completionName(t)), mode: 0o755 },
    { name: 'LICENSE', file: 'LICENSE', mode: 0o644 },
  ];
  for (const e of entries) if (!existsSync(e.file)) fail(`${e.file} is missing`);
  if (t.archive === 'zip') await writeZip(join('dist', name), entries, mtime);
  else await writeTarGz(join('dist', name), entries, mtime);
  const sha256 = await sha256Of(join('dist', name));
  writeFileSync(join('dist', `${name}.sha256`), `${sha256}  ${name}\n`);
  return { archive: name, sha256 };
}

function sha256Of(file) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (c) => h.update(c)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });
}

function gitCommitTime() {
  try {
    return execFileSync('git', ['log', '-1', '--format=%ct'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '0';
  }
}

function step(what, fn) {
  const t0 = Date.now();
  log(`${what}...`);
  fn();
  log(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

function mb(file) {
  return `${(statSync(file).size / 1e6).toFixed(1)} MB`;
}

function fail(message) {
  throw new Error(message);
}
