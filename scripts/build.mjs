// Bundles src/main.ts into one file with esbuild: dist/kubectl-selfhost.cjs (CommonJS, so the same bundle can be
// the entry of a Node single executable application). ESM-only dependencies use import.meta.url, shimmed here.
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

await build({
  entryPoints: ['src/main.ts'],
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  outfile: 'dist/kubectl-selfhost.cjs',
  banner: { js: 'const __import_meta_url = require("url").pathToFileURL(__filename).href;' },
  define: {
    'import.meta.url': '__import_meta_url',
    __SELFHOST_VERSION__: JSON.stringify(pkg.version),
    __SELFHOST_COMMIT__: JSON.stringify(commit),
  },
  // Top-level await in main.ts is not allowed in CJS; main.ts is wrapped by the entry below instead.
  legalComments: 'none',
  logLevel: 'warning',
});
