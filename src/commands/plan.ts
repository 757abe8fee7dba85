// `kubectl selfhost plan`: what pivot would change, as a coloured diff and steps, or as YAML/JSON.
import { parseComponents } from '../core/components.ts';
import { buildPlan, planExitCode, type Plan } from '../core/plan.ts';
import { toYamlStream } from '../core/yaml.ts';
import type { Globals } from '../globals.ts';
import type { Io } from '../io.ts';
import { connect } from '../session.ts';
import { readManifestsDir } from '../sources/manifests-dir.ts';
import { renderPlan } from '../ui/plan-view.ts';
import { formatRollbackPlan } from '../ui/rollback-view.ts';
import { buildRollbackPlan } from '../core/rollback-plan.ts';
import { UsageError } from '../core/errors.ts';
import { chalkFor } from '../ui/color.ts';

export interface PlanArgs {
  manifestsDir?: string;
  components?: string;
  output?: 'json' | 'yaml';
  rollback?: boolean;
  toOriginal?: boolean;
  force?: boolean;
  exact?: boolean;
}

export async function planCommand(args: PlanArgs, g: Globals, io: Io, now: Date): Promise<number> {
  const components = parseComponents(args.components);
  if (args.rollback !== true && (args.toOriginal || args.force || args.exact)) throw new UsageError('--to-original, --force and --exact describe a rollback: add --rollback');
  if (args.rollback === true && args.manifestsDir !== undefined) throw new UsageError('plan --rollback reads the live cluster (the DaemonSets and the backups): drop --manifests-dir');
  const snapshot = args.manifestsDir !== undefined ? readManifestsDir(args.manifestsDir) : await (await connect(g, io.env)).readSnapshot();
  if (args.rollback === true) {
    const rb = buildRollbackPlan(snapshot, { components, toOriginal: args.toOriginal === true, force: args.force === true, exact: args.exact === true }, now);
    io.out(formatRollbackPlan(rb, args.output, chalkFor(g, io)));
    return rb.steps.length > 0 || rb.components.some((c) => c.action === 'blocked') ? 1 : 0;
  }
  const plan = buildPlan(snapshot, { components }, now);
  io.out(formatPlan(plan, args.output, g, io));
  return planExitCode(plan);
}

export function formatPlan(plan: Plan, output: PlanArgs['output'], g: Globals, io: Io): string {
  if (output === 'json') return JSON.stringify(plan, null, 2) + '\n';
  // -o yaml: the objects pivot would create, ready for review or `kubectl apply -f -`.
  if (output === 'yaml') return toYamlStream(plan.components.filter((c) => c.action === 'pivot' && c.daemonSet).map((c) => c.daemonSet));
  return renderPlan(plan, chalkFor(g, io));
}
