// `kubectl selfhost plan`: what pivot would change, as a coloured diff and steps, or as YAML/JSON.
import { parseComponents } from '../core/components.ts';
import { buildPlan, planExitCode, type Plan } from '../core/plan.ts';
import { toYamlStream } from '../core/yaml.ts';
import type { Globals } from '../globals.ts';
import type { Io } from '../io.ts';
import { connect } from '../session.ts';
import { readManifestsDir } from '../sources/manifests-dir.ts';
import { renderPlan } from '../ui/plan-view.ts';
import { chalkFor } from '../ui/color.ts';

export interface PlanArgs {
  manifestsDir?: string;
  components?: string;
  output?: 'json' | 'yaml';
}

export async function planCommand(args: PlanArgs, g: Globals, io: Io, now: Date): Promise<number> {
  const components = parseComponents(args.components);
  const snapshot = args.manifestsDir !== undefined ? readManifestsDir(args.manifestsDir) : await (await connect(g, io.env)).readSnapshot();
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
