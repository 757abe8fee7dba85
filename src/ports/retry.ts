// Retries for the answers a control plane gives while it hands itself over. During a pivot or rollback two
// kube-apiservers share one port and the kernel spreads new connections between them; one that has just started
// answers 403 until its RBAC informers have synced and 429/503 until it is ready, and one that is stopping drops
// connections. Such an answer says nothing about the request, so pivot and rollback send it again (a new
// connection, so the kernel may pick the other server) after a short, growing pause.
//
// Only answers that prove the request was not carried out are retried for every verb (403, 429, 503, connection
// refused). Answers that leave it open (500, 502, 504, a reset or timed-out connection) are retried for GET and
// DELETE only, where sending twice cannot do harm; a create or replace that may have happened is reported as is.
// raw GETs (pod logs, configz) are asked again on the same statuses and, if they persist, return the last answer.
import type { Clock } from './clock.ts';
import { errorCode, isTransient, type Verb } from '../core/transient.ts';
import { ApiError, type KubeApi, type ListOptions, type Obj, type WriteOptions } from './kube.ts';

export { isTransient };

export interface RetryPolicy {
  /** Pauses before each further attempt; their count is the number of retries. */
  delaysMs: readonly number[];
}

/**
 * About 16 s in all, seven more connections: with two servers on the port, the chance that every one lands on a
 * server still syncing is below 1 %. A real lack of permission is found before any change by preflight's access
 * reviews (which answer "not allowed" without a 403), so only a mid-run revocation waits this long.
 */
export const handoverRetries: RetryPolicy = { delaysMs: [250, 500, 1000, 2000, 3000, 4000, 5000] };

/** A short account of a transient failure for the progress output: "HTTP 403 Forbidden", "ECONNREFUSED". */
export function failureSummary(err: unknown): string {
  const e = err as { status?: unknown; reason?: unknown; message?: unknown };
  if (typeof e.status === 'number') return `HTTP ${e.status}${typeof e.reason === 'string' && e.reason ? ` ${e.reason}` : ''}`;
  return errorCode(err) ?? String(e.message ?? err).split('\n')[0]!;
}

/** The same KubeApi, each call retried by the policy while it fails transiently; onRetry hears of each retry. */
export function retrying(kube: KubeApi, policy: RetryPolicy, clock: Clock, onRetry: (what: string, err: Error, attempt: number) => void = () => {}): KubeApi {
  /** Calls until the answer is not transient or the retries are spent; answerStatus reads a status from answers that do not throw. */
  async function attempt<T>(verb: Verb, path: string, call: () => Promise<T>, answerStatus?: (answer: T) => number): Promise<T> {
    for (let i = 0; ; i++) {
      let failure: unknown;
      try {
        const answer = await call();
        const status = answerStatus?.(answer);
        if (status === undefined || i >= policy.delaysMs.length || !isTransient(verb, { status })) return answer;
        failure = new ApiError(status, `${verb} ${path}: ${status}`);
      } catch (err) {
        if (i >= policy.delaysMs.length || !isTransient(verb, err)) throw err;
        failure = err;
      }
      onRetry(`${verb} ${path}`, failure as Error, i + 1);
      await clock.sleep(policy.delaysMs[i]!);
    }
  }
  return {
    get: <T>(path: string) => attempt('GET', path, () => kube.get<T>(path)),
    list: <T>(path: string, opts?: ListOptions) => attempt('LIST', path, () => kube.list<T>(path, opts)),
    create: <T extends Obj>(path: string, body: T, opts?: WriteOptions) => attempt('CREATE', path, () => kube.create(path, body, opts)),
    replace: <T extends Obj>(path: string, body: T, opts?: WriteOptions) => attempt('REPLACE', path, () => kube.replace(path, body, opts)),
    patch: <T>(path: string, body: object, opts?: WriteOptions) => attempt('PATCH', path, () => kube.patch<T>(path, body, opts)),
    delete: (path, opts) => attempt('DELETE', path, () => kube.delete(path, opts)),
    // raw never throws on an HTTP status; its answers are GETs, so a transient status is asked again like a GET's.
    raw: (path, opts) => (opts?.once ? kube.raw(path) : attempt('GET', path, () => kube.raw(path), (r) => r.status)),
  };
}
