// The in-cluster prober's per-second lines (scripts/testbed/prober) folded into the host prober's figures for a
// time window: what the e2e figures table prints for the ClusterIP vantage point.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fold, type ProberSecond } from '../../test/e2e/incluster-prober.ts';

const sec = (t: number, sent: number, failed: number, firstOk = 0, lastOk = 0, gapInside = 0, errors?: string[]): ProberSecond => ({ t, sent, failed, firstOk, lastOk, gapInside, ...(errors ? { errors } : {}) });

describe('folding the in-cluster prober\'s seconds into a window', () => {
  it('sums the failures by kind over the window', () => {
    const r = fold('w', [{ ...sec(2000, 25, 3), kinds: { 403: 2, refused: 1 } }, { ...sec(3000, 25, 2), kinds: { refused: 2 } }, { ...sec(9000, 25, 5), kinds: { 500: 5 } }], 1000, 3000);
    assert.deepEqual(r.kinds, { 403: 2, refused: 3 });
  });

  it('sums what was sent and failed in the window only, and keeps the first errors', () => {
    const r = fold('w', [sec(1000, 25, 0, 960, 990, 40), sec(2000, 25, 2, 1010, 1990, 40, ['a', 'b']), sec(3000, 25, 1, 2010, 2990, 40, ['c']), sec(9000, 25, 25)], 1500, 3000);
    assert.deepEqual({ sent: r.sent, failed: r.failed, errors: r.firstErrors, duration: r.durationMs }, { sent: 50, failed: 3, errors: ['a', 'b', 'c'], duration: 1500 });
  });

  it('finds the longest gap between seconds, inside a second, at the start and at the end of the window', () => {
    // between: last success 1990, next 4010 (two seconds with no success in between)
    assert.equal(fold('w', [sec(2000, 25, 0, 1010, 1990, 40), sec(3000, 25, 25), sec(4000, 25, 25), sec(5000, 25, 0, 4010, 4990, 40)], 1000, 5000).longestGapMs, 4010 - 1990);
    // inside one second
    assert.equal(fold('w', [sec(2000, 25, 0, 1010, 1990, 700), sec(3000, 25, 0, 2010, 2990, 40)], 1000, 3000).longestGapMs, 700);
    // from the window's start to the first success
    assert.equal(fold('w', [sec(2000, 25, 25), sec(3000, 25, 0, 2500, 2990, 40)], 1000, 3000).longestGapMs, 1500);
    // from the last success to the window's end
    assert.equal(fold('w', [sec(2000, 25, 0, 1010, 1200, 40), sec(3000, 25, 25)], 1000, 3000).longestGapMs, 1800);
  });

  it('has no success at all when the prober logged nothing: the whole window is the gap', () => {
    const r = fold('w', [], 1000, 4000);
    assert.deepEqual({ sent: r.sent, gap: r.longestGapMs }, { sent: 0, gap: 3000 });
  });
});
