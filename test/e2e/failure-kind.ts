// A failed probe request by kind, the same names for the host prober (prober.ts) and the in-cluster one
// (scripts/testbed/prober, kindOf): an HTTP status, or what stopped the request before an answer. The figures show
// which kinds fill a gap: a starting apiserver's 403/500, or a connection nothing took (refused, unreachable).
export function failureKind(why: string): string {
  const http = /^HTTP (\d{3})$/.exec(why);
  if (http) return http[1]!;
  if (/ECONNREFUSED|connection refused/.test(why)) return 'refused';
  if (/ECONNRESET|socket hang up|connection reset|EOF|socket disconnected before secure TLS/.test(why)) return 'reset';
  if (/ENETUNREACH|EHOSTUNREACH|network is unreachable|no route to host/.test(why)) return 'unreachable';
  if (/timeout|ETIMEDOUT|deadline exceeded/i.test(why)) return 'timeout';
  if (/ENOTFOUND|EAI_AGAIN|no such host/.test(why)) return 'dns';
  return 'other';
}

/** "403×20, refused×3", most first. */
export function formatKinds(kinds: Record<string, number>): string {
  return Object.entries(kinds).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k, n]) => `${k}×${n}`).join(', ');
}
