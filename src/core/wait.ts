// One waiting loop for every wait: it polls a probe, reports what it saw (so a timeout prints the last state, not
// "timed out waiting for the condition"), sits out the errors an apiserver gives while it hands over, and honours a
// limit. Any other error is the server's (or the tool's) real answer: the wait fails at once with it, instead of
// retrying a 422 for five minutes and blaming the timeout.
import type { Clock } from '../ports/clock.ts';
import { SelfhostError } from './errors.ts';
import type { Emit } from './events.ts';
import { isTransient } from './transient.ts';

export interface Observation {
  done: boolean;
  /** A short description of what was seen last: pod phase, container state and reason, HTTP status... */
  seen: string;
}

/** A wait that ran out of time; seen is what its probe saw last. */
export class WaitTimeoutError extends SelfhostError {
  readonly seen: string;
  constructor(message: string, seen: string) {
    super('failed', message);
    this.seen = seen;
  }
}

export interface WaitCtx {
  clock: Clock;
  emit: Emit;
  /** Limit of each wait in ms (--timeout). */
  timeoutMs: number;
  pollMs?: number;
}

/** Sent as the request would be by a poll: a read, so 500/502/504 and resets count as transient too. */
export const waitSitsOut = (err: unknown): boolean => isTransient('GET', err);

export async function waitFor(ctx: WaitCtx, tag: string, what: string, probe: () => Promise<Observation>, detail?: () => Promise<string>): Promise<void> {
  const start = ctx.clock.now().getTime();
  const poll = ctx.pollMs ?? 1000;
  ctx.emit({ type: 'wait-start', tag, what, limitMs: ctx.timeoutMs });
  let seen = 'nothing yet';
  for (;;) {
    try {
      const o = await probe();
      seen = o.seen;
      if (o.done) {
        ctx.emit({ type: 'wait-end', tag, what, elapsedMs: ctx.clock.now().getTime() - start, ok: true, seen });
        return;
      }
    } catch (err) {
      const message = (err as Error).message.split('\n')[0];
      if (!waitSitsOut(err)) {
        ctx.emit({ type: 'wait-end', tag, what, elapsedMs: ctx.clock.now().getTime() - start, ok: false, seen: `error: ${message}` });
        const kind = err instanceof SelfhostError ? err.kind : 'failed';
        throw new SelfhostError(kind, `while waiting for ${what}: ${message}`, { cause: err });
      }
      seen = `error: ${message}`;
    }
    const elapsedMs = ctx.clock.now().getTime() - start;
    if (elapsedMs >= ctx.timeoutMs) {
      ctx.emit({ type: 'wait-end', tag, what, elapsedMs, ok: false, seen });
      let more = '';
      if (detail) more = await detail().catch(() => '');
      throw new WaitTimeoutError(`gave up after ${Math.round(elapsedMs / 1000)}s waiting for ${what}; last seen: ${seen}${more ? `; ${more}` : ''} (raise --timeout if it is only slow)`, seen);
    }
    ctx.emit({ type: 'wait-tick', tag, what, elapsedMs, limitMs: ctx.timeoutMs, seen });
    await ctx.clock.sleep(poll);
  }
}
