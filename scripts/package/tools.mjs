// Tools that packaging and its tests build from the package registries into the cache (cache.mjs), once:
//   krew and validate-krew-manifest, from the Go module sigs.k8s.io/krew (the Go module proxy), each in its own
//   directory (krew/<version>, krew-validate/<version>), built under nice -n 19;
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

/**
 * krew's own manifest linter, validate-krew-manifest (sigs.k8s.io/krew/cmd/validate-krew-manifest) at KREW_VERSION,
 * built once into <cache>/krew-validate/<version>/: { path } or { missing }.
 */
export async function krewValidator(cache) {
  return goCommand(cache, 'validate-krew-manifest', join(cache, 'krew-validate', KREW_VERSION));
}

/** { krew, validate } built from sigs.k8s.io/krew at KREW_VERSION, or { missing }. */
export async function krewTools(cache) {
  const krew = await goCommand(cache, 'krew', join(cache, 'krew', KREW_VERSION));
  if (krew.missing) return krew;
  const validate = await krewValidator(cache);
  if (validate.missing) return validate;
  return { krew: krew.path, validate: validate.path };
}

/** One command of the krew module, built with the Go module proxy under `nice -n 19` (the machine is shared). */
async function goCommand(cache, cmd, dir) {
  const path = join(dir, cmd);
  if (existsSync(path)) return { path };
  if (!onPath('go')) return { missing: `go is not installed, so ${cmd} cannot be built (apt-get install golang-go, or Go from go.dev)` };
  log(`building ${cmd} ${KREW_VERSION} from the Go module proxy (sigs.k8s.io/krew)`);
  const env = {
    ...process.env,
    GOMODCACHE: join(cache, 'go', 'mod'),
    GOCACHE: join(cache, 'go', 'build'),
    GOFLAGS: '-mod=mod',
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
  };
  const niced = (args, opts) => execFileSync('nice', ['-n', '19', 'go', ...args], { env, ...opts });
  const module = JSON.parse(niced(['mod', 'download', '-json', `sigs.k8s.io/krew@${KREW_VERSION}`], { cwd: mkdir(cache), encoding: 'utf8' }));
  await atomically(dir, (tmp) => {
    mkdir(tmp);
    niced(['build', '-trimpath', '-ldflags', `-X sigs.k8s.io/krew/internal/version.gitTag=${KREW_VERSION}`, '-o', join(tmp, cmd), `./cmd/${cmd}`], { cwd: module.Dir, stdio: ['ignore', 'inherit', 'inherit'] });
  });
  return { path };
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
