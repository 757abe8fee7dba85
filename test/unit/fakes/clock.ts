import type { Clock } from '../../../src/ports/clock.ts';

/** A clock that advances by the time slept, instantly. */
export function fakeClock(start = Date.parse('2026-01-02T03:04:05Z')): Clock & { t: number } {
  const c = { t: start, now: () => new Date(c.t), sleep: async (ms: number) => { c.t += ms; } };
  return c;
}
