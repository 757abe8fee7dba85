// What shell completion knows of the command line: verbs, their flags, and where each flag's values come from,
// taken from the CLI's own table (src/commands/verbs.ts) without loading yargs or the commands (they cost start-up
// on every <TAB>); test/package/completion.test.ts checks it against the yargs help as well.
import { GLOBAL_FLAGS as FLAGS, VERBS as VERB_TABLE, type Flag, type Values } from '../commands/verbs.ts';

export type { Values };

export interface FlagSpec {
  name: string;
  short?: string;
  description: string;
  /** Absent for boolean flags. */
  values?: Values;
  /** May be given again (a list or repeated flag), so it is still offered after its first use. */
  repeatable?: boolean;
}

export interface VerbSpec {
  name: string;
  description: string;
  flags: readonly FlagSpec[];
}

function spec(f: Flag): FlagSpec {
  const values: Values | undefined = f.type === 'boolean'
    ? undefined
    : f.complete ?? (f.choices ? { kind: 'choices', choices: f.choices } : { kind: 'none' });
  const repeatable = f.type === 'list' || f.type === 'repeated';
  return { name: f.name, ...(f.short ? { short: f.short } : {}), description: f.describe.split(/ \(|; |\. /)[0]!, ...(values ? { values } : {}), ...(repeatable ? { repeatable } : {}) };
}

export const GLOBAL_FLAGS: readonly FlagSpec[] = [...FLAGS.map(spec), { name: 'help', short: 'h', description: 'Show help' }];

export const VERBS: readonly VerbSpec[] = VERB_TABLE.map((v) => ({ name: v.name, description: v.describe.split(/: | \(|, /)[0]!, flags: v.flags.map(spec) }));
