// Where a command's output goes. The CLI passes the process streams; tests pass buffers.
import { isatty } from 'node:tty';
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** stdout is a terminal (spinners, prompts and colour in auto mode). */
  isTTY: boolean;
  stdinIsTTY: boolean;
  env: NodeJS.ProcessEnv;
}

export function processIo(): Io {
  return {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    isTTY: process.stdout.isTTY === true,
    // isatty(0) rather than process.stdin.isTTY: touching process.stdin builds the stream (about 15 ms).
    stdinIsTTY: isatty(0),
    env: process.env,
  };
}
