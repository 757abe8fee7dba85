// The node helper's binaries (src/node-helper, built by scripts/build-node-helper.sh): gzip'd, one per
// architecture, with the sha256 of each uncompressed binary. Inside the single executable they are SEA assets
// (scripts/package/package.mjs embeds them); from a checkout, files in dist/node-helper beside the bundle. A build
// without them still works: pivot then adds port sharing by restart (src/core/port-sharing.ts).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HELPER_ARCHS, type HelperArch } from '../core/port-sharing.ts';

export interface HelperBinary { gz: Buffer; sha256: string }

export interface NodeHelper {
  archs: readonly HelperArch[];
  binary(arch: HelperArch): HelperBinary;
}

export const helperFile = (arch: HelperArch) => `node-helper-linux-${arch}.gz`;
export const HELPER_SUMS = 'node-helper-SHA256SUMS';

/** The sums file's line for one binary: "<hex>  node-helper-linux-<arch>". */
export function sumOf(sums: string, arch: HelperArch): string | null {
  const line = sums.split('\n').find((l) => l.trim().endsWith(`node-helper-linux-${arch}`));
  const hex = line?.trim().split(/\s+/)[0];
  return hex && /^[0-9a-f]{64}$/.test(hex) ? hex : null;
}

/** What this build carries, from a reader of named files (SEA assets, or a directory). */
export function nodeHelperFrom(read: (name: string) => Buffer | null): NodeHelper {
  const sums = read(HELPER_SUMS)?.toString('utf8') ?? '';
  const found = new Map<HelperArch, HelperBinary>();
  for (const arch of HELPER_ARCHS) {
    const gz = read(helperFile(arch));
    const sha256 = sumOf(sums, arch);
    if (gz && sha256) found.set(arch, { gz, sha256 });
  }
  return {
    archs: [...found.keys()],
    binary(arch) {
      const b = found.get(arch);
      if (!b) throw new Error(`no node helper for ${arch} in this build`);
      return b;
    },
  };
}

/** The node helper of this installation: SEA assets, else dist/node-helper, else none. */
export function loadNodeHelper(): NodeHelper {
  const require = createRequire(import.meta.url);
  try {
    const sea = require('node:sea') as { isSea(): boolean; getRawAsset(name: string): ArrayBuffer };
    if (sea.isSea()) {
      return nodeHelperFrom((name) => {
        try { return Buffer.from(sea.getRawAsset(name)); } catch { return null; }
      });
    }
  } catch {
    // node:sea is missing only on Node versions this tool does not support; fall through to the files.
  }
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/kubectl-selfhost.cjs -> dist/node-helper; src/ports/node-helper.ts -> dist/node-helper
  const dir = [join(here, 'node-helper'), join(here, '..', '..', 'dist', 'node-helper')].find((d) => existsSync(d));
  return nodeHelperFrom((name) => {
    if (!dir) return null;
    const file = join(dir, name === HELPER_SUMS ? 'SHA256SUMS' : name);
    return existsSync(file) ? readFileSync(file) : null;
  });
}
