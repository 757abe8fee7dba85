// Tools that packaging and its tests build from the package registries into the cache (cache.mjs), once:
//   krew and validate-krew-manifest, from the Go module sigs.k8s.io/krew (the Go module proxy);
//   rcodesign, from the crate apple-codesign (crates.io), to give the macOS executables an ad-hoc signature
//   (postject's injection invalidates Node's own signature, and arm64 macOS refuses to run unsigned code).
// Each returns { path } or { missing: why } so that callers decide whether that is fatal.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { atomically, log, mkdir } from './cache.mjs';

// v0.4.5 is refused by the Go module proxy reachable here ("not available"); v0.4.4 is served.
export const KREW_VERSION = 'v0.4.4';
export const RCODESIGN_VERSION = '0.29.0';

function onPath(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** { krew, validate } built from sigs.k8s.io/krew at KREW_VERSION, or { missing }. */
export async function krewTools(cache) {
  const dir = join(cache, 'krew', KREW_VERSION);
  const krew = join(dir, 'krew');
  const validate = join(dir, 'validate-krew-manifest');
  if (existsSync(krew) && existsSync(validate)) return { krew, validate };
  if (!onPath('go')) return { missing: 'go is not installed, so krew cannot be built (apt-get install golang-go, or Go from go.dev)' };
  log(`building krew ${KREW_VERSION} from the Go module proxy`);
  const env = {
    ...process.env,
    GOMODCACHE: join(cache, 'go', 'mod'),
    GOCACHE: join(cache, 'go', 'build'),
    GOFLAGS: '-mod=mod',
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
  };
  const module = JSON.parse(execFileSync('go', ['mod', 'download', '-json', `sigs.k8s.io/krew@${KREW_VERSION}`], { env, cwd: cache, encoding: 'utf8' }));
  await atomically(dir, (tmp) => {
    mkdir(tmp);
    for (const cmd of ['krew', 'validate-krew-manifest']) {
      execFileSync('go', ['build', '-trimpath', '-ldflags', `-X sigs.k8s.io/krew/internal/version.gitTag=${KREW_VERSION}`, '-o', join(tmp, cmd), `./cmd/${cmd}`], { env, cwd: module.Dir, stdio: ['ignore', 'inherit', 'inherit'] });
    }
  });
  return { krew, validate };
}

/** { path } of rcodesign built from crates.io, or { missing }. */
export async function rcodesign(cache) {
  const root = join(cache, 'rcodesign', RCODESIGN_VERSION);
  const path = join(root, 'bin', 'rcodesign');
  if (existsSync(path)) return { path };
  if (!onPath('cargo')) return { missing: 'cargo is not installed, so rcodesign cannot be built (rustup.rs, or apt-get install cargo)' };
  log(`building rcodesign ${RCODESIGN_VERSION} from crates.io (once; several minutes)`);
  const target = join(cache, 'rcodesign', 'target');
  await atomically(root, (tmp) => {
    execFileSync('cargo', ['install', 'apple-codesign', '--version', RCODESIGN_VERSION, '--locked', '--no-default-features', '--root', tmp, '--target-dir', target], { stdio: ['ignore', 'inherit', 'inherit'] });
  });
  rmSync(target, { recursive: true, force: true }); // build intermediates, ~600 MB
  return { path };
}
