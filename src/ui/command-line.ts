// A command line to print for the user to run next, in POSIX shell quoting, repeating the flags they gave.
import { flagsOf, labelOf, verbNamed } from '../commands/verbs.ts';

/** Quotes a word for sh/bash/zsh: as is when it is plainly safe, else in single quotes. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Flags whose value must not be printed back (it would end up in terminal scrollback and CI logs). */
const SECRET = new Set(['token']);

/**
 * `kubectl selfhost <verb>` with every flag in `given` (the values typed, per flag name) that <verb> also takes, in
 * the order of its flag table; a flag <verb> does not take (plan's -o, --manifests-dir) is left out.
 */
export function commandLine(verb: string, given: ReadonlyMap<string, readonly string[]>): string {
  const words = ['kubectl', 'selfhost', verb];
  for (const flag of flagsOf(verbNamed(verb))) {
    const values = given.get(flag.name);
    if (!values || values.length === 0) continue;
    const label = labelOf(flag);
    const shown = (v: string) => `${label}=${SECRET.has(flag.name) ? 'REDACTED' : shellQuote(v)}`;
    if (flag.type === 'boolean') words.push(values.at(-1) === 'true' ? label : `${label}=false`);
    else if (flag.type === 'repeated') words.push(...values.map(shown));
    else if (flag.type === 'list') words.push(shown(values.join(',')));
    else words.push(shown(values.at(-1)!));
  }
  return words.join(' ');
}
