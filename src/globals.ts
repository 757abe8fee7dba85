// The global flags every verb understands, as kubectl spells them (plugins get none of kubectl's own), read from
// the flags yargs parsed (already checked by src/commands/verbs.ts).
import { parseDuration, parseVerbosity } from './commands/flag-values.ts';
import { REQUEST_TIMEOUT_DEFAULT } from './commands/verbs.ts';
import type { ColorMode } from './ui/color.ts';

export interface Globals {
  kubeconfig?: string;
  context?: string;
  cluster?: string;
  user?: string;
  server?: string;
  token?: string;
  certificateAuthority?: string;
  clientCertificate?: string;
  clientKey?: string;
  insecureSkipTlsVerify?: boolean;
  tlsServerName?: string;
  as?: string;
  asGroups?: string[];
  asUid?: string;
  /** Per-request timeout in ms; 0 = none (kubectl's "0"). */
  requestTimeoutMs: number;
  verbosity: number;
  color: ColorMode;
}

const STRINGS = {
  kubeconfig: 'kubeconfig', context: 'context', cluster: 'cluster', user: 'user', server: 'server', token: 'token',
  certificateAuthority: 'certificate-authority', clientCertificate: 'client-certificate', clientKey: 'client-key',
  tlsServerName: 'tls-server-name', as: 'as', asUid: 'as-uid',
} as const;

export function globalsFrom(a: Record<string, unknown>): Globals {
  const g: Globals = {
    requestTimeoutMs: parseDuration(typeof a['request-timeout'] === 'string' ? a['request-timeout'] : REQUEST_TIMEOUT_DEFAULT, '--request-timeout', { zero: 'for no limit' }),
    verbosity: typeof a['v'] === 'string' ? parseVerbosity(a['v']) : 0,
    color: (typeof a['color'] === 'string' ? a['color'] : 'auto') as ColorMode,
  };
  for (const [key, flag] of Object.entries(STRINGS) as Array<[keyof typeof STRINGS, string]>) {
    if (typeof a[flag] === 'string') g[key] = a[flag];
  }
  if (a['insecure-skip-tls-verify'] === true) g.insecureSkipTlsVerify = true;
  if (Array.isArray(a['as-group'])) g.asGroups = a['as-group'] as string[];
  return g;
}
