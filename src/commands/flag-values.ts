// Checks and conversions of flag values, as kubectl's flag library (pflag) and klog do them, with an error that
// names the flag, the value given and what would be accepted.
import { UsageError } from '../core/errors.ts';

/** strconv.ParseBool's spellings, which pflag accepts for `--flag=value` on a boolean flag. */
const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

export function parseBool(value: string, label: string): boolean {
  if (TRUE.has(value)) return true;
  if (FALSE.has(value)) return false;
  throw new UsageError(`invalid ${label} "${value}": use ${label}, ${label}=true or ${label}=false`);
}

export function checkChoice(value: string, choices: readonly string[], label: string): void {
  if (!choices.includes(value)) throw new UsageError(`invalid ${label} "${value}": use ${orList(choices)}`);
}

const MAX_VERBOSITY = 10;

/**
 * klog's -v: a level as a decimal integer (kubectl: -v=6, -v 6, --v=6, -v6). klog takes any level, but nothing here
 * logs above 10 and negative levels mean nothing, so anything outside 0-10 is more likely a typo than a wish.
 */
export function parseVerbosity(value: string, label = '-v'): number {
  if (!/^\d{1,3}$/.test(value) || Number(value) > MAX_VERBOSITY) throw new UsageError(`invalid ${label} "${value}": use a log level from 0 to ${MAX_VERBOSITY} such as -v=6 (6 and above print stack traces of errors)`);
  return Number(value);
}

/**
 * A duration as kubectl's --request-timeout takes it: a bare integer is seconds ("30"), otherwise Go's units
 * ("500ms", "30s", "2m", "1m30s", "1h"). Negative values are refused; zero only where it means "no limit".
 */
export function parseDuration(value: string, label: string, opts: { zero?: string } = {}): number {
  const v = value.trim();
  const units = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
  let total = /^\d+$/.test(v) ? Number(v) * 1000 : NaN;
  if (Number.isNaN(total) && /^(\d+(\.\d+)?(ms|s|m|h))+$/.test(v)) {
    total = 0;
    for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(m[1]) * units[m[2] as keyof typeof units];
  }
  const zero = opts.zero !== undefined ? ` (0 ${opts.zero})` : '';
  if (Number.isNaN(total) || (total === 0 && opts.zero === undefined)) {
    throw new UsageError(`invalid ${label} "${value}": use a ${opts.zero === undefined ? 'positive ' : ''}duration such as 30s, 2m or 1m30s${zero}`);
  }
  return Math.round(total);
}

/** "a, b or c" */
export function orList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}
