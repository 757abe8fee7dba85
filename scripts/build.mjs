// Bundles the CLI with esbuild into dist/, as CommonJS so that the bundle can be the entry of a Node single
// executable application (npm run package):
//   dist/kubectl-selfhost.cjs              the CLI and kubectl's completion hook (entry: src/completion/entry.ts)
//   dist/kubectl-selfhost.client-node.cjs  @kubernetes/client-node alone (16 of the 18 MB), loaded on first use
// Node parses a script whole before running it, so client-node inside the main bundle cost every verb ~250 ms,
// even `--help`; CommonJS output has no code splitting, hence the second bundle and the small loader below.
// ESM-only dependencies use import.meta.url, shimmed here.
import { build } from 'esbuild';
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
let commit = process.env.SELFHOST_COMMIT ?? 'unknown';
try {
  commit = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
} catch {
  // not a git checkout: keep "unknown"
}

const CHUNK_FILE = 'kubectl-selfhost.client-node.cjs';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  banner: { js: 'const __import_meta_url = require("url").pathToFileURL(__filename).href;' },
  define: { 'import.meta.url': '__import_meta_url' },
  legalComments: 'none',
  logLevel: 'warning',
};

// The main bundle sees `@kubernetes/client-node` as this module: it loads the chunk from beside the bundle, or,
// inside a single executable, from the SEA asset of the same name (scripts/package/sea.mjs embeds it).
const lazyChunk = {
  name: 'lazy-client-node',
  setup(b) {
    b.onResolve({ filter: /^@kubernetes\/client-node$/ }, () => ({ path: CHUNK_FILE, namespace: 'lazy-chunk' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-chunk' }, () => ({
      loader: 'js',
      contents: `
const path = require('node:path');
const sea = require('node:sea');
const file = ${JSON.stringify(CHUNK_FILE)};
if (sea.isSea()) {
  const filename = path.join(path.dirname(process.execPath), file);
  const wrapper = require('node:vm').compileFunction(sea.getAsset(file, 'utf8'),
    ['exports', 'require', 'module', '__filename', '__dirname'], { filename });
  const chunk = { exports: {} };
  wrapper(chunk.exports, require('node:module').createRequire(filename), chunk, filename, path.dirname(filename));
  module.exports = chunk.exports;
} else {
  module.exports = require(path.join(__dirname, file));
}`,
    }));
  },
};

await Promise.all([
  build({
    ...common,
    entryPoints: ['src/completion/entry.ts'],
    outfile: 'dist/kubectl-selfhost.cjs',
    define: {
      ...common.define,
      __SELFHOST_VERSION__: JSON.stringify(pkg.version),
      __SELFHOST_COMMIT__: JSON.stringify(commit),
    },
    plugins: [lazyChunk],
  }),
  build({
    ...common,
    stdin: { contents: "module.exports = require('@kubernetes/client-node');", resolveDir: '.', loader: 'js' },
    outfile: `dist/${CHUNK_FILE}`,
    // Whitespace and syntax only: identifiers keep their names, so stack traces at -v 6 stay readable.
    minifyWhitespace: true,
    minifySyntax: true,
  }),
]);

// The node helper (src/node-helper, Go): built when Go is on PATH, else the CLI works without it and pivot adds port
// sharing by restart (src/core/port-sharing.ts). Release packages require it (scripts/package/package.mjs).
{
  const { spawnSync } = await import('node:child_process');
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0) {
    const r = spawnSync('bash', ['scripts/build-node-helper.sh', 'dist/node-helper'], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error('building the node helper failed (scripts/build-node-helper.sh)');
  } else {
    console.error('build: Go is not on PATH, so no node helper: pivot will add port sharing by restart (install Go >= 1.24 to build it)');
  }
}
