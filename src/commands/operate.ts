// `kubectl selfhost pivot` and `kubectl selfhost rollback`: parse, connect, render progress, run.
import { loadNodeHelper } from '../ports/node-helper.ts';
import { createInterface } from 'node:readline/promises';
import type { Invocation } from '../cli.ts';
import { parseComponents } from '../core/components.ts';
import type { Io } from '../io.ts';
import { DEFAULT_AGENT_IMAGE } from '../ports/agent-image.ts';
import { parseDuration } from './flag-values.ts';
import { realClock } from '../ports/clock.ts';
import { failureSummary, handoverRetries } from '../ports/retry.ts';
import type { DryRun } from '../pivot/context.ts';
import type { OpArgs, OpEnv } from '../pivot/operation.ts';
import { runPivot } from '../pivot/pivot.ts';
import { runRollback } from '../pivot/rollback.ts';
import { processFaultHook } from '../ports/fault.ts';
import { checkAgentImage } from '../ports/agent-image.ts';
import { connect } from '../session.ts';
import { chalkFor } from '../ui/color.ts';
import { escapeTerminal } from '../ui/escape.ts';
import { progressRenderer } from '../ui/progress.ts';

/** The flags as src/cli.ts parsed and checked them (src/commands/verbs.ts: operateFlags); absent when not typed. */
export interface OperateArgs {
  components?: string[];
  yes?: boolean;
  'dry-run'?: DryRun;
  timeout?: string;
  'agent-image'?: string;
  exact?: boolean;
  'to-original'?: boolean;
  force?: boolean;
}

function parseArgs(a: OperateArgs, io: Io): OpArgs {
  const dry = a['dry-run'] ?? 'none';
  return {
    components: parseComponents(a.components),
    dryRun: dry,
    timeoutMs: parseDuration(a.timeout ?? '5m', '--timeout'),
    agentImage: checkAgentImage(a['agent-image'] ?? DEFAULT_AGENT_IMAGE),
    confirm: {
      yes: a.yes === true || dry !== 'none',
      interactive: io.stdinIsTTY,
      async ask(question) {
        const rl = createInterface({ input: process.stdin, output: process.stdout });
        try {
          return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
        } finally {
          rl.close();
        }
      },
    },
  };
}

export async function operateCommand(verb: 'pivot' | 'rollback', { flags, g, io }: Invocation): Promise<number> {
  const a = flags as OperateArgs;
  const args = parseArgs(a, io);
  const c = chalkFor(g, io);
  const renderer = await progressRenderer(io, c);
  const session = await connect(g, io.env, (what) => renderer.emit({ type: 'info', tag: 'api', message: what }), {
    policy: handoverRetries,
    clock: realClock,
    onRetry: (what, err, n) => renderer.emit({ type: 'info', tag: 'api', message: `${what.split('?')[0]} answered ${failureSummary(err)} (usual while an apiserver starts or stops); sending it again (retry ${n} of ${handoverRetries.delaysMs.length})` }),
  });
  io.out(`Context: ${c.bold(escapeTerminal(session.context))} (${escapeTerminal(session.server)})${args.dryRun !== 'none' ? c.yellow(` [dry run: ${args.dryRun}]`) : ''}\n`);
  const started = Date.now();
  const env: OpEnv = { session, emit: renderer.emit, clock: realClock, fault: processFaultHook(io.env), nodeHelper: loadNodeHelper() };
  try {
    if (verb === 'pivot') {
      const { plan, journal } = await runPivot(env, args);
      if (!journal) io.out('Nothing to do: every selected component is already self-hosted.\n');
      else if (args.dryRun !== 'none') io.out(`Dry run (${args.dryRun}) complete in ${secs(started)}: nothing was changed.\n`);
      else {
        const pivoted = plan.components.filter((x) => x.action === 'pivot').map((x) => x.component);
        io.out(`${c.green('Pivot complete')}: ${pivoted.length ? `${pivoted.join(', ')} self-hosted` : 'the control plane is self-hosted'} in ${secs(started)} (run ${journal.runId}). Undo with "kubectl selfhost rollback".\n`);
      }
    } else {
      const { plan, journal } = await runRollback(env, { ...args, exact: a.exact === true, toOriginal: a['to-original'] === true, force: a.force === true });
      if (!journal) io.out('Nothing to roll back: every selected component runs as a static pod, and no backup of it is left.\n');
      else if (args.dryRun !== 'none') io.out(`Dry run (${args.dryRun}) complete in ${secs(started)}: nothing was changed.\n`);
      else {
        const restored = plan.steps.filter((s) => s.action === 'restore').length;
        io.out(`${c.green('Rollback complete')}: ${args.components.join(', ')} run as static pods again (${restored} restore step(s)) in ${secs(started)} (run ${journal.runId}).\n`);
      }
    }
    return 0;
  } finally {
    renderer.stop();
  }
}

const secs = (start: number) => `${Math.round((Date.now() - start) / 1000)}s`;
