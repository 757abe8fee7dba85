// Where a command's output goes. The CLI passes the process streams; tests pass buffers.
import { isatty } from 'node:tty';
import { OutputError } from './core/errors.ts';
import { describeSystemError } from './core/system-errors.ts';

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** stdout is a terminal (spinners, prompts and colour in auto mode). */
  isTTY: boolean;
  stdinIsTTY: boolean;
  env: NodeJS.ProcessEnv;
  /** Resolves once everything written to out has been written; rejects with an OutputError if it could not be. */
  flush?: () => Promise<void>;
}

export function processIo(): Io {
  // A failed write to stdout (a full disk, a closed pipe) arrives later, as an 'error' event; without a listener Node
  // would crash with a stack trace. It is kept here and reported once by the error boundary (src/cli.ts) through flush.
  let failure: unknown;
  process.stdout.on('error', (err) => (failure ??= err));
  const failed = () => new OutputError(`cannot write the output to standard output: ${describeSystemError(failure)}`, { cause: failure });
  return {
    out: (t) => {
      if (failure === undefined) process.stdout.write(t, (err) => err && (failure ??= err));
    },
    err: (t) => process.stderr.write(t),
    isTTY: process.stdout.isTTY === true,
    // isatty(0) rather than process.stdin.isTTY: touching process.stdin builds the stream (about 15 ms).
    stdinIsTTY: isatty(0),
    env: process.env,
    flush: () =>
      new Promise((resolve, reject) => {
        if (failure !== undefined) return reject(failed());
        process.stdout.write('', (err) => (err || failure !== undefined ? ((failure ??= err), reject(failed())) : resolve()));
      }),
  };
}
