// `kubectl selfhost plan`: what pivot would change, as a coloured diff and steps, or as YAML/JSON.
import { loadNodeHelper } from '../ports/node-helper.ts';
import type { Invocation } from '../cli.ts';
import { parseComponents } from '../core/components.ts';
import { buildPlan, planExitCode, type Plan } from '../core/plan.ts';
import { toYamlStream } from '../core/yaml.ts';
import type { Globals } from '../globals.ts';
import type { Io } from '../io.ts';
import { connect } from '../session.ts';
import { readManifestsDir } from '../sources/manifests-dir.ts';
import { renderPlan, type ApplyCommand } from '../ui/plan-view.ts';
import { formatRollbackPlan } from '../ui/rollback-view.ts';
import { buildRollbackPlan } from '../core/rollback-plan.ts';
import { UsageError } from '../core/errors.ts';
import { chalkFor } from '../ui/color.ts';
import { commandLine } from '../ui/command-line.ts';
import { escapeTerminal } from '../ui/escape.ts';

export interface PlanArgs {
  'manifests-dir'?: string;
  components?: string[];
  output?: 'json' | 'yaml';
  rollback?: boolean;
  'to-original'?: boolean;
  force?: boolean;
  exact?: boolean;
}

export async function planCommand({ flags, g, given, io, now }: Invocation): Promise<number> {
  const args = flags as PlanArgs;
  const components = parseComponents(args.components);
  const dir = args['manifests-dir'];
  const rollback = args.rollback === true;
  if (!rollback && (args['to-original'] || args.force || args.exact)) throw new UsageError('--to-original, --force and --exact describe a rollback: add --rollback');
  if (rollback && dir !== undefined) throw new UsageError('plan --rollback reads the live cluster (the DaemonSets and the backups): drop --manifests-dir');
  const snapshot = dir !== undefined ? readManifestsDir(dir) : await (await connect(g, io.env, (what) => io.err(`${escapeTerminal(what)}\n`))).readSnapshot();
  if (rollback) {
    const rb = buildRollbackPlan(snapshot, { components, toOriginal: args['to-original'] === true, force: args.force === true, exact: args.exact === true, helperArchs: loadNodeHelper().archs }, now);
    io.out(formatRollbackPlan(rb, args.output, chalkFor(g, io), commandLine('rollback', given)));
    return planExitCode(rb);
  }
  const plan = buildPlan(snapshot, { components, helperArchs: loadNodeHelper().archs }, now);
  const pivot = (only?: readonly string[]) => commandLine('pivot', only ? new Map([...given, ['components', [only.join(',')]]]) : given);
  io.out(formatPlan(plan, args.output, g, io, pivot));
  return planExitCode(plan);
}

/** `apply`: the command that carries the plan out, shown at the end of the human output. */
export function formatPlan(plan: Plan, output: PlanArgs['output'], g: Pick<Globals, 'color'>, io: Io, apply?: ApplyCommand): string {
  if (output === 'json') return JSON.stringify(plan, null, 2) + '\n';
  // -o yaml: the objects pivot would create, ready for review or `kubectl apply -f -`.
  if (output === 'yaml') return toYamlStream(plan.components.filter((c) => c.action === 'pivot' && c.daemonSet).map((c) => c.daemonSet));
  return renderPlan(plan, chalkFor(g, io), apply);
}
