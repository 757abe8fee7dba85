// Renders a RollbackPlan for people: per component and node where the restored manifest comes from and its diff
// against the pivot-time original (so edits made through the API since pivot show), the steps, warnings. -o json
// prints the plan document; -o yaml the static manifests rollback would write. Pure: returns a string.
import type { ChalkInstance } from 'chalk';
import { createTwoFilesPatch } from 'diff';
import { SOURCE_TEXT, type RollbackPlan } from '../core/rollback-plan.ts';
import { colourDiff, sourceLine } from './plan-view.ts';

export function formatRollbackPlan(plan: RollbackPlan, output: 'json' | 'yaml' | undefined, c: ChalkInstance, command = 'kubectl selfhost rollback'): string {
  if (output === 'json') return JSON.stringify(plan, null, 2) + '\n';
  if (output === 'yaml') return plan.components.flatMap((cp) => cp.nodes.flatMap((n) => (n.manifest ? [`---\n# ${n.node}: ${cp.component} (from ${n.from})\n${n.manifest}`] : []))).join('');
  return renderRollbackPlan(plan, c, command);
}

export function renderRollbackPlan(plan: RollbackPlan, c: ChalkInstance, command = 'kubectl selfhost rollback'): string {
  const out: string[] = [sourceLine(plan, c), ''];
  for (const cp of plan.components) {
    out.push(c.bold(`${cp.component}: ${cp.action === 'blocked' ? c.red('blocked') : cp.action}`) + c.dim(` (${cp.reason})`));
    for (const n of cp.nodes) {
      out.push(`  ${n.node}: restore from ${SOURCE_TEXT[n.from]}, version ${n.version ?? '?'} (runs now: ${n.runningVersion ?? '?'})`);
      if (n.manifest !== null) {
        const before = n.original ?? '';
        out.push(colourDiff(createTwoFilesPatch(n.original ? `pivot-time original (${n.node})` : '(no original in the cluster)', `what rollback writes to ${n.node}`, before, n.manifest, '', '', { context: 3 }), c));
      }
    }
    out.push('');
  }
  if (plan.steps.length > 0) {
    out.push(c.bold('Steps "kubectl selfhost rollback" would take:'));
    plan.steps.forEach((s, i) => out.push(`  ${String(i + 1).padStart(2)}. ${c.cyan(`[${s.component ?? 'all'}]`)} ${s.description}`));
    out.push('');
  }
  if (plan.warnings.length > 0) {
    out.push(c.bold('Warnings:'));
    for (const w of plan.warnings) out.push(`  ${c.yellow('!')} ${w.message}`);
    out.push('');
  }
  const blocked = plan.components.filter((x) => x.action === 'blocked');
  out.push(blocked.length ? `Rollback is blocked for ${blocked.map((b) => b.component).join(', ')} (see above).` : plan.steps.length === 0 ? 'Nothing to roll back.' : `Plan: rollback in ${plan.steps.length} steps. To apply it, run:\n  ${command}`);
  return out.join('\n') + '\n';
}
