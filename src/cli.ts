// The command line: kubectl's flag spellings are read first (src/commands/argv.ts), yargs parses what the verb
// table (src/commands/verbs.ts) declares, thin command files act, and this file is the one error boundary that maps
// typed errors to exit codes and prints each error once, as one line.
import yargs, { type Argv } from 'yargs';
import { readArgv } from './commands/argv.ts';
import { checkChoice, orList, parseVerbosity } from './commands/flag-values.ts';
import { GLOBAL_FLAGS, labelOf, TOP_EPILOGUE, verbEpilogue, VERBS, type Flag } from './commands/verbs.ts';
import { EXIT_CODES, SelfhostError, UsageError } from './core/errors.ts';
import { isSystemError, systemErrorLine } from './core/system-errors.ts';
import { globalsFrom, type Globals } from './globals.ts';
import type { Io } from './io.ts';
import { ApiError } from './ports/kube.ts';
import { escapeTerminal } from './ui/escape.ts';

/** What a verb's handler gets: its parsed flags, the globals, and the flags as typed (for the plan's footer). */
export interface Invocation {
  flags: Record<string, unknown>;
  g: Globals;
  given: ReadonlyMap<string, readonly string[]>;
  io: Io;
  now: Date;
}

const HANDLERS: Record<string, (inv: Invocation) => Promise<number>> = {
  plan: async (inv) => (await import('./commands/plan.ts')).planCommand(inv),
  pivot: async (inv) => (await import('./commands/operate.ts')).operateCommand('pivot', inv),
  status: async (inv) => (await import('./commands/status.ts')).statusCommand(inv),
  rollback: async (inv) => (await import('./commands/operate.ts')).operateCommand('rollback', inv),
  version: async (inv) => (await import('./commands/version.ts')).versionCommand(inv),
  rbac: async (inv) => (await import('./commands/rbac.ts')).rbacCommand(inv.flags as never, inv.io),
};

export async function run(argv: string[], io: Io, now: () => Date = () => new Date()): Promise<number> {
  let verbosity = 0;
  try {
    const read = readArgv(argv);
    verbosity = verbosityOf(read.given);
    if (read.command !== undefined && !read.verb) throw new UsageError(`unknown command "${read.command}": use ${orList(VERBS.map((v) => v.name))} (see "kubectl selfhost --help")`);
    // A bad value found while yargs coerces a flag: yargs wraps it, so it is kept here to be reported as it is.
    const badValue: { error?: unknown } = {};
    const fail = (msg: string | null, err: Error | undefined) => {
      if (badValue.error) throw badValue.error;
      const text = (msg ?? err?.message ?? 'invalid arguments').replace(/\s+/g, ' ');
      throw new UsageError(`${text.charAt(0).toLowerCase()}${text.slice(1)} (see "kubectl selfhost ${read.verb ? `${read.verb.name} ` : ''}--help")`);
    };
    let code = 0;
    if (read.verb && !read.given.has('help')) {
      // A verb to run: only its flags are declared. yargs renders the whole help after every command it runs
      // (about 40 ms with kubectl's flags), so commands are declared only when help is what was asked for.
      const { verb } = read;
      const args = [...read.args];
      args.splice(args.indexOf(verb.name), 1);
      const parser = yargs(args).parserConfiguration(PARSER_CONFIG).strict().version(false).help(false).fail(fail).exitProcess(false);
      addFlags(parser, [...GLOBAL_FLAGS, ...verb.flags], badValue);
      const flags = await parser.parseAsync();
      code = await HANDLERS[verb.name]!({ flags, g: globalsFrom(flags), given: read.given, io, now: now() });
    } else {
      let output = '';
      await helpParser(read.args, badValue, fail).parseAsync(read.args, {}, (_err: unknown, _parsed: unknown, text: string) => {
        output = text;
      });
      if (output) io.out(output + '\n');
    }
    await io.flush?.();
    return code;
  } catch (err) {
    return report(err, io, verbosity);
  }
}

const PARSER_CONFIG = { 'boolean-negation': false, 'camel-case-expansion': false } as const;

/** Every verb as a yargs command, for --help (and for the error when no command is named). */
function helpParser(args: string[], badValue: { error?: unknown }, fail: (msg: string | null, err: Error | undefined) => never): Argv {
  const parser = yargs(args)
    .scriptName('kubectl selfhost')
    .usage('Usage: kubectl selfhost <command> [flags]\n\nPivot a kubeadm static-pod control plane to self-hosted DaemonSets in kube-system, and back.')
    .parserConfiguration(PARSER_CONFIG)
    .epilogue(TOP_EPILOGUE);
  addFlags(parser, GLOBAL_FLAGS, badValue, true);
  parser.group([...GLOBAL_FLAGS.map((f) => f.name), 'help'], 'Global flags:');
  for (const verb of VERBS) {
    parser.command(verb.name, verb.describe, (y: Argv) => {
      addFlags(y, verb.flags, badValue);
      // kubectl's layout: the verb's own flags first, the global ones after; examples as commented command lines.
      y.group([...verb.flags.map((f) => f.name), 'help'], 'Flags:').group(GLOBAL_FLAGS.map((f) => f.name), 'Global flags:');
      return y.epilogue(verbEpilogue(verb));
    });
  }
  return parser
    .demandCommand(1, `name a command: ${orList(VERBS.map((v) => v.name))}`)
    .strict()
    .version(false)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(120, process.stdout.columns ?? 100))
    .fail(fail)
    .exitProcess(false);
}

/** Declares flags to yargs; each value is shaped (last wins, or added up) and checked as kubectl's flag library would. */
function addFlags(y: Argv, flags: readonly Flag[], badValue: { error?: unknown }, global = false): void {
  for (const f of flags) {
    y.option(f.name, {
      type: f.type === 'boolean' ? 'boolean' : 'string',
      describe: f.describe,
      global,
      ...(f.short ? { alias: f.short } : {}),
      ...(f.choices ? { choices: [...f.choices] } : {}),
      ...(f.defaultText !== undefined ? { defaultDescription: f.defaultText } : {}),
      coerce: (raw: unknown) => {
        try {
          return shape(f, raw);
        } catch (err) {
          badValue.error ??= err;
          throw err;
        }
      },
    });
  }
}

function shape(f: Flag, raw: unknown): unknown {
  const all = Array.isArray(raw) ? (raw as unknown[]) : [raw];
  if (f.type === 'boolean') return all.at(-1) === true || all.at(-1) === 'true';
  const label = labelOf(f);
  const check = (v: string) => {
    if (v === '') throw new UsageError(`${label} needs a value${f.hint ? ` (${f.hint})` : ''}`);
    if (f.choices) checkChoice(v, f.choices, label);
    f.check?.(v, label);
  };
  const values = all.map(String);
  if (f.type === 'string') {
    check(values.at(-1)!);
    return values.at(-1);
  }
  const items = f.type === 'list' ? values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean) : values;
  if (items.length === 0) check('');
  items.forEach(check);
  return items;
}

function verbosityOf(given: ReadonlyMap<string, readonly string[]>): number {
  try {
    const v = given.get('v')?.at(-1);
    return v === undefined ? 0 : parseVerbosity(v);
  } catch {
    return 0;
  }
}

/** The one place errors are printed: one line, lower-case, with the fix, escaped; the stack only at -v >= 6. */
function report(err: unknown, io: Io, verbosity: number): number {
  let message = err instanceof Error ? err.message : String(err);
  let code = EXIT_CODES.failed;
  if (err instanceof SelfhostError) code = EXIT_CODES[err.kind];
  else if (err instanceof ApiError) code = EXIT_CODES.cluster;
  else if (isSystemError(err)) {
    // A file the command was pointed at (a manifest, a kubeconfig) that the OS would not give it.
    message = systemErrorLine(err);
    code = EXIT_CODES.config;
  } else {
    // Nothing mapped it: a bug rather than bad input. Say so, so that it is reported rather than puzzled over.
    message = `unexpected internal error (a bug: please report it with the output of -v=6): ${message}`;
  }
  io.err(`error: ${escapeTerminal(message.split('\n')[0]!)}\n`);
  if (verbosity >= 6 && err instanceof Error && err.stack) io.err(err.stack + '\n');
  return code;
}
