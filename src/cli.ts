// The command line: yargs parses, thin command files act, and this file is the one error boundary that maps
// typed errors to exit codes and prints each error once.
import yargs, { type Argv } from 'yargs';
import { EXIT_CODES, SelfhostError, UsageError } from './core/errors.ts';
import { parseDuration, type Globals } from './globals.ts';
import type { Io } from './io.ts';
import type { ColorMode } from './ui/color.ts';
import { DEFAULT_AGENT_IMAGE } from './ports/agent-image.ts';

type Handler = (argv: Record<string, unknown>, g: Globals) => Promise<number>;

export async function run(argv: string[], io: Io, now: () => Date = () => new Date()): Promise<number> {
  let exitCode = 0;
  let failure: unknown;
  const act = (h: Handler) => async (a: Record<string, unknown>) => {
    try {
      exitCode = await h(a, globalsFrom(a));
    } catch (err) {
      failure = err;
    }
  };

  const parser = yargs(argv)
    .scriptName('kubectl selfhost')
    .usage('Usage: kubectl selfhost <command> [flags]\n\nPivot a kubeadm static-pod control plane to self-hosted DaemonSets in kube-system, and back.')
    .option('kubeconfig', { type: 'string', describe: 'Path to the kubeconfig file (default: KUBECONFIG, then ~/.kube/config)', global: true })
    .option('context', { type: 'string', describe: 'The kubeconfig context to use', global: true })
    .option('cluster', { type: 'string', describe: 'The kubeconfig cluster to use', global: true })
    .option('user', { type: 'string', describe: 'The kubeconfig user to use', global: true })
    .option('request-timeout', { type: 'string', default: '0', describe: 'How long to wait for one API request (e.g. 30s); 0 waits forever', global: true })
    .option('v', { type: 'number', default: 0, describe: 'Log verbosity (>= 6 prints stack traces of errors)', global: true, requiresArg: true })
    .option('color', { type: 'string', choices: ['auto', 'always', 'never'], default: 'auto', describe: 'Colour output (auto: only on a terminal, never with NO_COLOR)', global: true })
    .command('plan', 'Show what pivot would change: a diff per component and the steps, or -o json|yaml', (y: Argv) =>
      y
        .option('manifests-dir', { type: 'string', describe: 'Plan offline from a kubeadm static pod directory (e.g. a copy of /etc/kubernetes/manifests); no cluster needed' })
        .option('components', { type: 'string', describe: 'Comma-separated subset: kube-apiserver,kube-controller-manager,kube-scheduler' })
        .option('output', { alias: 'o', type: 'string', choices: ['json', 'yaml'], describe: 'json: the versioned plan document; yaml: the DaemonSets it would create (with --rollback: the static manifests it would write)' })
        .option('rollback', { type: 'boolean', describe: 'Show what rollback would do instead: the static manifest it writes per node, diffed against the pivot-time original' })
        .option('to-original', { type: 'boolean', describe: 'With --rollback: plan the rollback to the pivot-time originals (see rollback --help)' })
        .option('force', { type: 'boolean', describe: 'With --rollback: allow a downgrade (see rollback --help)' })
        .option('exact', { type: 'boolean', describe: 'With --rollback: plan --exact too (see rollback --help)' })
        .epilogue('Exit codes (as kubectl diff): 0 nothing to do, 1 changes planned, >1 error.'),
      act(async (a, g) => (await import('./commands/plan.ts')).planCommand(a as never, g, io, now())),
    )
    .command('pivot', 'Convert the static control plane to DaemonSets, component by component, node by node', (y: Argv) => operateFlags(y, 'pivot'),
      act(async (a, g) => (await import('./commands/operate.ts')).operateCommand('pivot', a as never, g, io)))
    .command('status', 'Show where every component on every control-plane node stands', (y: Argv) =>
      y.option('output', { alias: 'o', type: 'string', choices: ['json', 'yaml'], describe: 'The versioned status document' })
        .epilogue('Exit codes: 0 healthy, 1 degraded or mid-way (a run to finish or roll back), >1 error.'),
      act(async (a, g) => (await import('./commands/status.ts')).statusCommand(a as never, g, io)))
    .command('rollback', 'Return to static pods from any state pivot can leave', (y: Argv) =>
      rollbackFlags(operateFlags(y, 'rollback')),
      act(async (a, g) => (await import('./commands/operate.ts')).operateCommand('rollback', a as never, g, io)))
    .command('version', 'Print the version of kubectl-selfhost', (y: Argv) =>
      y.option('output', { alias: 'o', type: 'string', choices: ['json'], describe: 'json: machine-readable' }),
      act(async (a) => (await import('./commands/version.ts')).versionCommand(a as never, io)),
    )
    // rbac: offline, prints the roles this tool needs (src/core/permissions.ts) for kubectl apply -f -.
    .command('rbac', 'Print the ClusterRole, Role and bindings a user needs to run this tool (for kubectl apply -f -)', (y: Argv) =>
      y.option('bind-user', { type: 'string', array: true, describe: 'Bind the roles to this user (repeatable)' })
        .option('bind-group', { type: 'string', array: true, describe: 'Bind the roles to this group (repeatable)' })
        .option('read-only', { type: 'boolean', describe: 'Only what plan and status need' })
        .option('nodes', { type: 'string', describe: 'Comma-separated control-plane node names: limits the ConfigMap rules to their backups' }),
      act(async (a) => (await import('./commands/rbac.ts')).rbacCommand(a as never, io)))
    .demandCommand(1, 'name a command: plan, pivot, status, rollback, version or rbac (see --help)')
    .strict()
    .version(false)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(120, process.stdout.columns ?? 100))
    .fail((msg: string | null, err: Error | undefined) => {
      const text = msg ?? 'invalid arguments';
      throw err ?? new UsageError(`${text.charAt(0).toLowerCase()}${text.slice(1)} (see "kubectl selfhost --help")`);
    })
    .exitProcess(false);

  let helpShown = false;
  try {
    await parser.parseAsync(argv, {}, (_err: unknown, _parsed: unknown, output: string) => {
      if (output) {
        helpShown = true;
        io.out(output + '\n');
      }
    });
  } catch (err) {
    failure = err;
  }
  if (failure !== undefined) return report(failure, io, verbosityOf(argv));
  return helpShown ? 0 : exitCode;
}

function operateFlags(y: Argv, verb: string): Argv {
  return y
    .option('components', { type: 'string', describe: 'Comma-separated subset: kube-apiserver,kube-controller-manager,kube-scheduler' })
    .option('yes', { alias: 'y', type: 'boolean', describe: `Do not ask for confirmation (required to ${verb} without a terminal)` })
    .option('dry-run', { type: 'string', choices: ['none', 'client', 'server'], describe: 'client: only show the steps; server: send every write with dryRun=All' })
    .option('timeout', { type: 'string', default: '5m', describe: 'Limit of each wait (e.g. 90s, 5m)' })
    .option('agent-image', { type: 'string', default: DEFAULT_AGENT_IMAGE, describe: 'Image of the short-lived node agent pods (busybox sh, cp, mv, base64); mirror it for air-gapped clusters' });
}

function rollbackFlags(y: Argv): Argv {
  return y
    .option('exact', { type: 'boolean', describe: 'Restore the byte-identical original manifests (one more restart each) instead of keeping --permit-port-sharing' })
    .option('to-original', { type: 'boolean', describe: 'Restore the pivot-time original manifests instead of what the DaemonSets run now (edits made through the API are lost)' })
    .option('force', { type: 'boolean', describe: 'Allow restoring an older version than the one that runs (a downgrade)' });
}

function globalsFrom(a: Record<string, unknown>): Globals {
  const s = (k: string) => (typeof a[k] === 'string' ? (a[k] as string) : undefined);
  const g: Globals = {
    requestTimeoutMs: parseDuration(String(a['request-timeout'] ?? '0'), '--request-timeout'),
    verbosity: Number(a['v'] ?? 0),
    color: (s('color') ?? 'auto') as ColorMode,
  };
  for (const k of ['kubeconfig', 'context', 'cluster', 'user'] as const) {
    const v = s(k);
    if (v !== undefined) {
      if (v === '') throw new UsageError(`--${k} needs a value`);
      g[k] = v;
    }
  }
  return g;
}

function verbosityOf(argv: string[]): number {
  const i = argv.findIndex((a) => a === '-v' || a === '--v' || a.startsWith('-v=') || a.startsWith('--v='));
  if (i === -1) return 0;
  const arg = argv[i]!;
  return Number(arg.includes('=') ? arg.split('=')[1] : argv[i + 1]) || 0;
}

/** The one place errors are printed: one line, lower-case, with the fix; the stack only at -v >= 6. */
function report(err: unknown, io: Io, verbosity: number): number {
  const message = err instanceof Error ? err.message : String(err);
  io.err(`error: ${message.split('\n')[0]}\n`);
  if (verbosity >= 6 && err instanceof Error && err.stack) io.err(err.stack + '\n');
  return err instanceof SelfhostError ? EXIT_CODES[err.kind] : EXIT_CODES.failed;
}

