// Computes completions the way cobra's `__complete` answers them, as a pure function of the words typed after
// `kubectl selfhost` (the last word is the one being completed, '' for a new word) and a source of kubeconfig names.
import { GLOBAL_FLAGS, VERBS, type FlagSpec, type Values, type VerbSpec } from './spec.ts';

/** cobra's ShellCompDirective bits. */
export const Directive = { default: 0, error: 1, noSpace: 2, noFileComp: 4, filterFileExt: 8, filterDirs: 16 } as const;

export interface Completion {
  /** "value" or "value\tdescription", as cobra prints them. */
  candidates: string[];
  directive: number;
}

/** Reads context, cluster or user names from the kubeconfig the command line would use. */
export type NameSource = (field: 'contexts' | 'clusters' | 'users', kubeconfigFlag: string | undefined) => string[];

export function complete(words: readonly string[], names: NameSource): Completion {
  const toComplete = words.at(-1) ?? '';
  const typed = parseTyped(words.slice(0, -1));
  const flags = [...GLOBAL_FLAGS, ...(typed.verb?.flags ?? [])];

  if (typed.pendingValues) return values(typed.pendingValues, toComplete, typed, names);
  if (toComplete.startsWith('-') && toComplete.includes('=')) {
    const eq = toComplete.indexOf('=');
    const flag = findFlag(flags, toComplete.slice(0, eq));
    // cobra answers the value alone; kubectl's shell script puts the "--flag=" back in front.
    return flag?.values ? values(flag.values, toComplete.slice(eq + 1), typed, names) : nothing();
  }
  if (toComplete.startsWith('-')) {
    const offered = flags.filter((f) => f.repeatable || !typed.usedFlags.has(f.name)).flatMap((f) => spellings(f, toComplete).map((s) => `${s}\t${f.description}`));
    return { candidates: offered.filter((c) => c.startsWith(toComplete)), directive: Directive.noFileComp };
  }
  if (!typed.verb) {
    return { candidates: VERBS.filter((v) => v.name.startsWith(toComplete)).map((v) => `${v.name}\t${v.description}`), directive: Directive.noFileComp };
  }
  return nothing(); // no verb takes positional arguments
}

interface Typed {
  verb?: VerbSpec;
  /** The values of a flag that still waits for one: the word being completed is that value. */
  pendingValues?: Values;
  usedFlags: Set<string>;
  kubeconfig?: string;
}

function parseTyped(before: readonly string[]): Typed {
  const typed: Typed = { usedFlags: new Set() };
  for (let i = 0; i < before.length; i++) {
    const word = before[i]!;
    if (!word.startsWith('-') || word === '-') {
      typed.verb ??= VERBS.find((v) => v.name === word);
      continue;
    }
    const eq = word.indexOf('=');
    // after the verb, its own flags; before it, any verb's (the first with that name)
    const known = [...GLOBAL_FLAGS, ...(typed.verb?.flags ?? VERBS.flatMap((v) => v.flags))];
    const flag = findFlag(known, eq === -1 ? word : word.slice(0, eq));
    if (!flag) continue;
    typed.usedFlags.add(flag.name);
    let value: string | undefined = eq === -1 ? undefined : word.slice(eq + 1);
    if (flag.values && value === undefined) {
      if (i + 1 === before.length) typed.pendingValues = flag.values;
      else value = before[++i];
    }
    if (flag.name === 'kubeconfig') typed.kubeconfig = value;
  }
  return typed;
}

function findFlag(flags: readonly FlagSpec[], spelled: string): FlagSpec | undefined {
  const name = spelled.replace(/^--?/, '');
  return flags.find((f) => f.name === name || f.short === name);
}

/** How a flag may be typed: --name (and -n for a one-letter name); -x for a shorthand only when asked for with "-". */
function spellings(flag: FlagSpec, toComplete: string): string[] {
  const out = [flag.name.length === 1 ? `-${flag.name}` : `--${flag.name}`];
  if (flag.short && !toComplete.startsWith('--')) out.push(`-${flag.short}`);
  return out;
}

function values(v: Values, toComplete: string, typed: Typed, names: NameSource): Completion {
  switch (v.kind) {
    case 'choices':
      return { candidates: v.choices.filter((c) => c.startsWith(toComplete)), directive: Directive.noFileComp };
    case 'list': {
      const head = toComplete.slice(0, toComplete.lastIndexOf(',') + 1);
      const chosen = new Set(head.split(',').filter(Boolean));
      const rest = v.choices.filter((c) => !chosen.has(c)).map((c) => head + c);
      return { candidates: rest.filter((c) => c.startsWith(toComplete)), directive: Directive.noFileComp };
    }
    case 'kubeconfig':
      return { candidates: names(v.field, typed.kubeconfig).filter((n) => n.startsWith(toComplete)), directive: Directive.noFileComp };
    case 'file':
      return { candidates: [], directive: Directive.default };
    case 'dir':
      return { candidates: [], directive: Directive.filterDirs };
    case 'none':
      return nothing();
  }
}

function nothing(): Completion {
  return { candidates: [], directive: Directive.noFileComp };
}

/** cobra's output: one candidate a line, then ":<directive>". */
export function formatCompletion(c: Completion, withDescriptions = true): string {
  const lines = withDescriptions ? c.candidates : c.candidates.map((x) => x.split('\t')[0]!);
  return [...lines, `:${c.directive}`].join('\n') + '\n';
}
