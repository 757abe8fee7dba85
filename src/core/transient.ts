// Which failures say nothing about the request (an apiserver starting or stopping on the shared port) and which
// are the server's real answer. One classification for the retries (src/ports/retry.ts) and for every wait
// (src/core/wait.ts): a wait sits out the first kind and fails at once, with the server's message, on the second.

/** PATCH: the merge patches this tool sends (node labels) set a value, so sending one twice does no harm. */
export type Verb = 'GET' | 'LIST' | 'CREATE' | 'REPLACE' | 'PATCH' | 'DELETE';

// 403 before RBAC has synced, 429/503 before ready: the request was not carried out.
const NOT_DONE_STATUS = new Set([403, 429, 503]);
// 500/502/504: it may have been; safe to send again only where twice does no harm.
const MAYBE_DONE_STATUS = new Set([500, 502, 504]);
const NOT_DONE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const MAYBE_DONE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

/** The error code (ECONNREFUSED, ETIMEDOUT...) of an error or of its causes. */
export function errorCode(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string') return e.code;
  }
  return undefined;
}

/** Whether an error from the API port is worth sending the same request again for. */
export function isTransient(verb: Verb, err: unknown): boolean {
  const status = (err as { status?: unknown } | null)?.status;
  const idempotent = verb === 'GET' || verb === 'LIST' || verb === 'PATCH' || verb === 'DELETE';
  if (typeof status === 'number') return NOT_DONE_STATUS.has(status) || (idempotent && MAYBE_DONE_STATUS.has(status));
  const code = errorCode(err);
  return code !== undefined && (NOT_DONE_CODES.has(code) || (idempotent && MAYBE_DONE_CODES.has(code)));
}
