// Renders a Plan for people: nodes and their state, a coloured diff per component, numbered steps with their
// cost (an API outage in red, apart from the rest), warnings, and the command that applies it. Pure: returns a
// string; the command decides where it goes. Everything read from the cluster or the manifests is escaped (esc).
import type { ChalkInstance } from 'chalk';
import { createTwoFilesPatch } from 'diff';
import { API_OUTAGE, isApiOutage, type Component } from '../core/components.ts';
import type { Plan } from '../core/plan.ts';
import { toYaml } from '../core/yaml.ts';
import { escapeTerminal as esc, escapeTerminalBlock } from './escape.ts';
import { table } from './table.ts';

/** The pivot command with the flags given (src/ui/command-line.ts); with `only`, its --components limited to those. */
export type ApplyCommand = (only?: readonly Component[]) => string;

const bareApply: ApplyCommand = (only) => `kubectl selfhost pivot${only ? ` --components=${only.join(',')}` : ''}`;

export function renderPlan(plan: Plan, c: ChalkInstance, apply: ApplyCommand = bareApply): string {
  const out: string[] = [];
  out.push(sourceLine(plan, c), '');
  out.push(c.bold('Control-plane nodes:'));
  const rows = plan.nodes.flatMap((n) =>
    n.components.map((s) => [esc(n.name), s.component, modeColour(s.mode, c), s.ready === null ? '-' : s.ready ? 'true' : c.red('false'), esc(s.version ?? '-')]),
  );
  out.push(table(['NODE', 'COMPONENT', 'MODE', 'READY', 'VERSION'], rows, '  '), '');

  for (const cp of plan.components) {
    out.push(c.bold(`${cp.component}: ${cp.action}`) + c.dim(` (${esc(cp.reason)})`));
    if (cp.action === 'pivot' && cp.staticPod && cp.daemonSet) {
      const restarts = plan.steps.some((st) => st.action === 'enable-port-sharing' && st.component === cp.component && st.method.how === 'restart');
      const missing = restarts ? c.yellow('no (restart needed first)') : 'no (set in place, no restart)';
      out.push(`  port sharing: static ${cp.portSharing.static ? 'yes' : missing}, DaemonSet yes`);
      const where = esc(`${cp.sourceNode}:${cp.staticManifestFile ?? cp.component}`);
      const from = toYaml({ metadata: cp.staticPod.metadata, spec: cp.staticPod.spec });
      const to = toYaml(cp.daemonSet.spec.template);
      out.push(colourDiff(createTwoFilesPatch(`static pod ${where}`, `DaemonSet kube-system/${cp.component} .spec.template`, from, to, '', '', { context: 3 }), c));
      const { template: _t, ...wrapperSpec } = cp.daemonSet.spec;
      out.push(c.dim('  DaemonSet wrapper (everything but .spec.template):'));
      out.push(indent(escapeTerminalBlock(toYaml({ ...cp.daemonSet, spec: wrapperSpec })), '    '));
    }
    out.push('');
  }

  if (plan.steps.length > 0) {
    out.push(c.bold('Steps "kubectl selfhost pivot" would take:'));
    plan.steps.forEach((s, i) => {
      out.push(`  ${String(i + 1).padStart(2)}. ${c.cyan(`[${s.component}]`)} ${esc(s.description)}`);
      out.push(`      ${c.dim('cost:')} ${costColour(esc(s.cost), c)}`);
    });
    out.push('');
  }
  if (plan.warnings.length > 0) {
    out.push(c.bold('Warnings:'));
    for (const w of plan.warnings) out.push(`  ${c.yellow('!')} ${esc(w.message)}`);
    out.push('');
  }
  // pivot refuses to start while any component it is given is blocked (src/pivot/pivot.ts): say what blocks, and
  // offer it only the others (their steps are independent: the same as shown above).
  const blocked = plan.components.filter((x) => x.action === 'blocked');
  if (blocked.length > 0) {
    out.push(c.red.bold('Blocked (pivot refuses while a component it is given is blocked; fix the cause, see the warnings above, and plan again):'));
    for (const b of blocked) out.push(`  ${b.component}: ${esc(b.reason)}`);
  }
  if (plan.steps.length === 0) {
    out.push(blocked.length > 0 ? 'Nothing to pivot until then.' : 'Nothing to do: every selected component is already self-hosted.');
    return out.join('\n') + '\n';
  }
  const outages = plan.steps.flatMap((s, i) => (isApiOutage(s.cost) ? [i + 1] : []));
  if (outages.length > 0) out.push(c.red.bold(`${API_OUTAGE}: step${outages.length > 1 ? 's' : ''} ${outages.join(', ')} restart${outages.length > 1 ? '' : 's'} a kube-apiserver (see the cost).`));
  const pivoting = plan.components.filter((x) => x.action === 'pivot').length;
  const runnable = plan.components.filter((x) => x.action !== 'blocked' && plan.steps.some((s) => s.component === x.component)).map((x) => x.component);
  const command = blocked.length > 0 ? apply(runnable) : apply();
  // The command alone on its line, so that it can be copied as it is.
  const how = plan.source.kind === 'cluster' ? 'To apply it, run:' : 'To apply it, run on the cluster these manifests come from:';
  out.push(`Plan: ${pivoting} component(s) to pivot in ${plan.steps.length} steps${blocked.length > 0 ? ', the blocked ones left out' : ''}. ${how}`, `  ${c.bold(command)}`);
  return out.join('\n') + '\n';
}

/** none green, an API outage red, every other cost yellow. */
function costColour(cost: string, c: ChalkInstance): string {
  if (cost === 'none') return c.green(cost);
  if (isApiOutage(cost)) return c.red.bold(API_OUTAGE) + c.red(cost.slice(API_OUTAGE.length));
  return c.yellow(cost);
}

export function sourceLine(plan: Pick<Plan, 'source'>, c: ChalkInstance): string {
  const s = plan.source;
  return s.kind === 'cluster'
    ? `Context: ${c.bold(esc(s.context))} (${esc(s.server)})`
    : `Source: manifests directory ${c.bold(esc(s.path))} (offline, no cluster)`;
}

function modeColour(mode: string, c: ChalkInstance): string {
  if (mode === 'self-hosted') return c.green(mode);
  if (mode === 'static') return c.blue(mode);
  if (mode === 'both') return c.yellow(mode);
  return c.red(mode);
}

export function colourDiff(patch: string, c: ChalkInstance): string {
  return escapeTerminalBlock(patch)
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
