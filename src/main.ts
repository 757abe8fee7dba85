import { run } from './cli.ts';
import { processIo } from './io.ts';

// No top-level await: the bundle is CommonJS (a Node single executable application needs that).
void run(process.argv.slice(2), processIo()).then((code) => {
  process.exitCode = code;
});
