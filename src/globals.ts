// The global flags every verb understands, as kubectl spells them (plugins get none of kubectl's own).
import { UsageError } from './core/errors.ts';
import type { ColorMode } from './ui/color.ts';

export interface Globals {
  kubeconfig?: string;
  context?: string;
  cluster?: string;
  user?: string;
  /** Per-request timeout in ms; 0 = none (kubectl's "0"). */
  requestTimeoutMs: number;
  verbosity: number;
  color: ColorMode;
}

/** Parses kubectl's --request-timeout: "0", "30", "30s", "1m", "1m30s", "500ms". */
export function parseDuration(value: string, flag: string): number {
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(v); m !== null; m = re.exec(v)) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    matched = re.lastIndex;
  }
  if (v === '' || matched !== v.length) {
    throw new UsageError(`invalid ${flag} "${value}": use a duration such as 30s, 2m or 1m30s (0 for none)`);
  }
  return total;
}
