// Where downloads and tools built for packaging are kept: outside the repository, so that every clone on the
// machine reuses them. SELFHOST_CACHE overrides; /var/cache/kubectl-selfhost when writable (root, CI), else
// ~/.cache/kubectl-selfhost.
import { accessSync, constants, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function cacheDir() {
  if (process.env.SELFHOST_CACHE) return mkdir(process.env.SELFHOST_CACHE);
  try {
    mkdirSync('/var/cache/kubectl-selfhost', { recursive: true });
    accessSync('/var/cache/kubectl-selfhost', constants.W_OK);
    return '/var/cache/kubectl-selfhost';
  } catch {
    return mkdir(join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kubectl-selfhost'));
  }
}

export function mkdir(dir) {
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Runs `fill(tmp)` and, only if it succeeds, replaces `dest` with tmp: an interrupted run leaves no half-made entry.
 */
export async function atomically(dest, fill) {
  const tmp = `${dest}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    await fill(tmp);
    rmSync(dest, { recursive: true, force: true });
    renameSync(tmp, dest);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export function log(message) {
  process.stderr.write(`[package] ${message}\n`);
}
