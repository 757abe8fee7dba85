// The one waiting loop: it sits out what an apiserver answers while it hands over, and fails at once, with the
// server's message, on anything else.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SelfhostError } from '../../src/core/errors.ts';
import { waitFor } from '../../src/core/wait.ts';
import { ApiError } from '../../src/ports/kube.ts';
import { fakeClock } from './fakes/clock.ts';

const ctx = () => ({ clock: fakeClock(), emit: () => undefined, timeoutMs: 300_000, pollMs: 1000 });

describe('waitFor', () => {
  it('sits out 403/429/503, 500s and refused or reset connections, and finishes when the probe is done', async () => {
    const c = ctx();
    const answers: unknown[] = [new ApiError(403, 'forbidden'), new ApiError(503, 'unavailable'), new ApiError(500, 'internal'), Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), Object.assign(new Error('reset'), { code: 'ECONNRESET' })];
    let calls = 0;
    await waitFor(c, '[t]', 'the thing', async () => {
      calls++;
      const a = answers.shift();
      if (a) throw a;
      return { done: true, seen: 'done' };
    });
    assert.equal(calls, 6);
  });

  it('fails at once on a permanent error (a 422), with the server\'s message, not after the timeout', async () => {
    const c = ctx();
    const t0 = c.clock.t;
    await assert.rejects(
      waitFor(c, '[t]', 'the journal to be written', async () => { throw new ApiError(422, 'ConfigMap "x" is invalid: data: Too long'); }),
      (e: unknown) => e instanceof SelfhostError && /while waiting for the journal to be written: ConfigMap "x" is invalid: data: Too long/.test(e.message) && !/raise --timeout/.test(e.message),
    );
    assert.equal(c.clock.t, t0, 'no time spent waiting');
  });

  it('gives up after its limit with what it saw last', async () => {
    const c = ctx();
    await assert.rejects(waitFor(c, '[t]', 'the pod', async () => ({ done: false, seen: 'phase Pending' })), /gave up after 300s waiting for the pod; last seen: phase Pending \(raise --timeout if it is only slow\)/);
  });
});
