// Colour is decided once, here, from --color and NO_COLOR; everything else receives the resulting Chalk.
import { Chalk, type ChalkInstance } from 'chalk';

export type ColorMode = 'auto' | 'always' | 'never';

export function decideColor(mode: ColorMode, stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  if (mode === 'always') return true;
  if (mode === 'never') return false;
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  return stream.isTTY === true && env['TERM'] !== 'dumb';
}

export function makeChalk(enabled: boolean): ChalkInstance {
  return new Chalk({ level: enabled ? 1 : 0 });
}

export function chalkFor(g: { color: ColorMode }, io: { isTTY: boolean; env: NodeJS.ProcessEnv }): ChalkInstance {
  return makeChalk(decideColor(g.color, { isTTY: io.isTTY }, io.env));
}
