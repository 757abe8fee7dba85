// Test helpers: golden files (UPDATE_GOLDEN=1 rewrites them; a missing golden file fails) and a buffered Io.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Io } from '../../src/io.ts';

export const REPO = join(import.meta.dirname, '..', '..');
export const FIXTURES = join(REPO, 'test', 'fixtures');
const GOLDEN = join(import.meta.dirname, 'golden');

export function assertGolden(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (process.env['UPDATE_GOLDEN'] === '1') {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  assert.ok(existsSync(file), `golden file ${name} is missing; run UPDATE_GOLDEN=1 npm test and review it`);
  assert.equal(actual, readFileSync(file, 'utf8'), `output differs from golden ${name} (UPDATE_GOLDEN=1 to accept after review)`);
}

export interface BufferIo extends Io {
  stdout: () => string;
  stderr: () => string;
}

export function bufferIo(env: NodeJS.ProcessEnv = {}, tty = false): BufferIo {
  let out = '';
  let err = '';
  return {
    out: (t) => { out += t; },
    err: (t) => { err += t; },
    isTTY: tty,
    stdinIsTTY: tty,
    env,
    stdout: () => out,
    stderr: () => err,
  };
}
