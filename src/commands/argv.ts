// Reads the command line the way kubectl's flag library (pflag) does, before yargs sees it, so that every spelling a
// kubectl user types means what it means to kubectl: `-ojson`, `-o json`, `-o=json`, `-v6`, `--v=6`; a flag that
// takes a value takes the next word whatever it looks like (`--timeout -5s` is a bad duration, not two flags);
// `--exact=maybe` is refused. yargs then gets every known flag as `--name=value` or `--name` and never guesses.
import { UsageError } from '../core/errors.ts';
import { parseBool } from './flag-values.ts';
import { GLOBAL_FLAGS, labelOf, VERBS, verbNamed, type Flag, type Verb } from './verbs.ts';

export interface ReadArgv {
  /** The arguments with every known flag rewritten as --name or --name=value. */
  args: string[];
  verb?: Verb;
  /** The first word that is not a flag or a flag's value: the verb, or what was typed in its place. */
  command?: string;
  /** The values typed per flag name, in order ("true"/"false" for booleans). */
  given: Map<string, string[]>;
}

const HELP: Flag = { name: 'help', short: 'h', type: 'boolean', describe: 'Show help' };

export function readArgv(argv: readonly string[]): ReadArgv {
  const args: string[] = [];
  const given = new Map<string, string[]>();
  let verb: Verb | undefined;
  let command: string | undefined;
  const words = [...argv];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--') {
      args.push(...words.slice(i));
      break;
    }
    if (!word.startsWith('-') || word === '-') {
      command ??= word;
      verb ??= verbNamed(word);
      args.push(word);
      continue;
    }
    const spelled = spelling(word);
    const flag = spelled && known(verb).find((f) => (spelled.long ? f.name === spelled.name : f.short === spelled.name || f.name === spelled.name));
    if (!spelled || !flag) {
      args.push(word); // yargs reports it as unknown
      continue;
    }
    const label = labelOf(flag);
    let value = spelled.inline;
    if (flag.type === 'boolean') {
      // pflag: a boolean never takes the next word; -y and --yes mean true, --yes=false false; -yv6 is -y -v6.
      if (spelled.glued) words.splice(i + 1, 0, `-${value}`);
      value = value === undefined || spelled.glued ? 'true' : String(parseBool(value, label));
      args.push(`--${flag.name}=${value}`);
    } else {
      if (value === undefined) {
        if (i + 1 >= words.length) throw new UsageError(`${label} needs a value${flag.hint ? ` (${flag.hint})` : ''}`);
        value = words[++i]!;
      }
      args.push(`--${flag.name}=${value}`);
    }
    given.set(flag.name, [...(given.get(flag.name) ?? []), value]);
  }
  return { args, given, ...(verb ? { verb } : {}), ...(command !== undefined ? { command } : {}) };
}

/** --name, --name=value, -x, -x=value, -xvalue (a value glued to a one-letter flag, as pflag reads -ojson and -v6). */
function spelling(word: string): { name: string; long: boolean; inline?: string; glued?: boolean } | undefined {
  if (word.startsWith('--')) {
    const eq = word.indexOf('=');
    return eq === -1 ? { name: word.slice(2), long: true } : { name: word.slice(2, eq), long: true, inline: word.slice(eq + 1) };
  }
  const rest = word.slice(2);
  if (rest === '') return { name: word[1]!, long: false };
  return rest.startsWith('=') ? { name: word[1]!, long: false, inline: rest.slice(1) } : { name: word[1]!, long: false, inline: rest, glued: true };
}

/** Before the verb, any verb's flags are known (cobra accepts flags anywhere); after it, that verb's. */
function known(verb: Verb | undefined): readonly Flag[] {
  return [...GLOBAL_FLAGS, HELP, ...(verb ? verb.flags : VERBS.flatMap((v) => v.flags))];
}
