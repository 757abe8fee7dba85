// Where a command's output goes. The CLI passes the process streams; tests pass buffers.
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
    stdinIsTTY: process.stdin.isTTY === true,
    env: process.env,
  };
}
