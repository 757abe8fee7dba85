// Renders a Plan for people: nodes and their state, a coloured diff per component, numbered steps with their
// cost, warnings. Pure: returns a string; the command decides where it goes.
import type { ChalkInstance } from 'chalk';
import { createTwoFilesPatch } from 'diff';
import type { Plan } from '../core/plan.ts';
import { toYaml } from '../core/yaml.ts';
import { table } from './table.ts';

export function renderPlan(plan: Plan, c: ChalkInstance): string {
  const out: string[] = [];
  out.push(sourceLine(plan, c), '');
  out.push(c.bold('Control-plane nodes:'));
  const rows = plan.nodes.flatMap((n) =>
    n.components.map((s) => [n.name, s.component, modeColour(s.mode, c), s.ready === null ? '-' : s.ready ? 'true' : c.red('false'), s.version ?? '-']),
  );
  out.push(table(['NODE', 'COMPONENT', 'MODE', 'READY', 'VERSION'], rows, '  '), '');

  for (const cp of plan.components) {
    out.push(c.bold(`${cp.component}: ${cp.action}`) + c.dim(` (${cp.reason})`));
    if (cp.action === 'pivot' && cp.staticPod && cp.daemonSet) {
      out.push(`  port sharing: static ${cp.portSharing.static ? 'yes' : c.yellow('no (restart needed first)')}, DaemonSet yes`);
      const where = `${cp.sourceNode}:${cp.staticManifestFile ?? cp.component}`;
      const from = toYaml({ metadata: cp.staticPod.metadata, spec: cp.staticPod.spec });
      const to = toYaml(cp.daemonSet.spec.template);
      out.push(colourDiff(createTwoFilesPatch(`static pod ${where}`, `DaemonSet kube-system/${cp.component} .spec.template`, from, to, '', '', { context: 3 }), c));
      const { template: _t, ...wrapperSpec } = cp.daemonSet.spec;
      out.push(c.dim('  DaemonSet wrapper (everything but .spec.template):'));
      out.push(indent(toYaml({ ...cp.daemonSet, spec: wrapperSpec }), '    '));
    }
    out.push('');
  }

  if (plan.steps.length > 0) {
    out.push(c.bold('Steps "kubectl selfhost pivot" would take:'));
    plan.steps.forEach((s, i) => {
      out.push(`  ${String(i + 1).padStart(2)}. ${c.cyan(`[${s.component}]`)} ${s.description}`);
      out.push(`      ${c.dim('cost:')} ${s.cost === 'none' ? c.green(s.cost) : c.yellow(s.cost)}`);
    });
    out.push('');
  }
  if (plan.warnings.length > 0) {
    out.push(c.bold('Warnings:'));
    for (const w of plan.warnings) out.push(`  ${c.yellow('!')} ${w.message}`);
    out.push('');
  }
  const pivoting = plan.components.filter((x) => x.action === 'pivot').length;
  out.push(
    plan.steps.length === 0
      ? 'Nothing to do: every selected component is already self-hosted (or blocked, see warnings).'
      : `Plan: ${pivoting} component(s) to pivot in ${plan.steps.length} steps. Run "kubectl selfhost pivot" to apply it.`,
  );
  return out.join('\n') + '\n';
}

export function sourceLine(plan: Pick<Plan, 'source'>, c: ChalkInstance): string {
  const s = plan.source;
  return s.kind === 'cluster'
    ? `Context: ${c.bold(s.context)} (${s.server})`
    : `Source: manifests directory ${c.bold(s.path)} (offline, no cluster)`;
}

function modeColour(mode: string, c: ChalkInstance): string {
  if (mode === 'self-hosted') return c.green(mode);
  if (mode === 'static') return c.blue(mode);
  if (mode === 'both') return c.yellow(mode);
  return c.red(mode);
}

export function colourDiff(patch: string, c: ChalkInstance): string {
  return patch
    .split('\n')
    .filter((l) => !l.startsWith('====') && l !== '\\ No newline at end of file')
    .map((l) => {
      if (l.startsWith('+++') || l.startsWith('---')) return c.bold(l);
      if (l.startsWith('+')) return c.green(l);
      if (l.startsWith('-')) return c.red(l);
      if (l.startsWith('@@')) return c.cyan(l);
      return l;
    })
    .map((l) => `  ${l}`)
    .join('\n');
}

function indent(text: string, prefix: string): string {
  return text.trimEnd().split('\n').map((l) => prefix + l).join('\n');
}
