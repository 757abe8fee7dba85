// Builds the single executables with @yao-pkg/pkg's SEA mode: it takes the cached Node binary of each target,
// makes the SEA blob with the same Node version (no patch-level skew) and injects it with postject.
// Run by package.mjs as `node sea.mjs <job.json>`, one process per target (injection is CPU-bound and
// single-threaded), with HOME pointing at the seeded cache (node-base.mjs).
//
// pkg's CLI (`pkg --sea file.js`) always writes its default sea-config, so it is called through the function the
// CLI uses, which accepts the config: we need
//   - execArgvExtension "none": NODE_OPTIONS of the user's shell must not reach the binary's runtime;
//   - assets: the client-node bundle, loaded only by verbs that talk to a cluster (scripts/build.mjs);
//   - useCodeCache only for the build host's own platform: V8's code cache is platform-specific and a foreign one
//     can crash at start-up (Node's SEA documentation), so the host target gets its own blob.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const { default: sea } = require('@yao-pkg/pkg/lib-es5/sea.js');
if (typeof sea !== 'function') throw new Error('@yao-pkg/pkg/lib-es5/sea.js no longer exports sea(); check the pinned pkg version');

/** @type {{ main: string, assets: Record<string, string>, nodeVersion: string, useCodeCache: boolean, targets: { platform: string, arch: string, output: string }[] }} */
const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));

await sea(job.main, {
  targets: job.targets.map((t) => ({ nodeRange: `node${job.nodeVersion}`, ...t })),
  signature: false, // package.mjs signs the macOS executables itself (pkg knows only codesign and ldid)
  seaConfig: {
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    useCodeCache: job.useCodeCache,
    execArgvExtension: 'none',
    assets: job.assets,
  },
});
