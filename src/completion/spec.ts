// What shell completion knows of the command line: verbs, their flags, and where each flag's values come from.
// It mirrors the yargs definitions in src/cli.ts without loading them (yargs and the commands cost start-up on
// every <TAB>); test/package/completion.test.ts fails when the two drift apart.
import { COMPONENTS } from '../core/components.ts';

/** Where the values of a flag come from. */
export type Values =
  | { kind: 'none' } // free text (a duration, a number): nothing to offer
  | { kind: 'choices'; choices: readonly string[] }
  | { kind: 'list'; choices: readonly string[] } // comma-separated subset, e.g. --components
  | { kind: 'kubeconfig'; field: 'contexts' | 'clusters' | 'users' }
  | { kind: 'file' }
  | { kind: 'dir' };

export interface FlagSpec {
  name: string;
  short?: string;
  description: string;
  /** Absent for boolean flags. */
  values?: Values;
}

export interface VerbSpec {
  name: string;
  description: string;
  flags: readonly FlagSpec[];
}

const none: Values = { kind: 'none' };

export const GLOBAL_FLAGS: readonly FlagSpec[] = [
  { name: 'kubeconfig', description: 'Path to the kubeconfig file', values: { kind: 'file' } },
  { name: 'context', description: 'The kubeconfig context to use', values: { kind: 'kubeconfig', field: 'contexts' } },
  { name: 'cluster', description: 'The kubeconfig cluster to use', values: { kind: 'kubeconfig', field: 'clusters' } },
  { name: 'user', description: 'The kubeconfig user to use', values: { kind: 'kubeconfig', field: 'users' } },
  { name: 'request-timeout', description: 'How long to wait for one API request (e.g. 30s)', values: none },
  { name: 'v', description: 'Log verbosity', values: none },
  { name: 'color', description: 'Colour output', values: { kind: 'choices', choices: ['auto', 'always', 'never'] } },
  { name: 'help', short: 'h', description: 'Show help' },
];

const components: FlagSpec = { name: 'components', description: 'Comma-separated subset of the control plane', values: { kind: 'list', choices: COMPONENTS } };

/** pivot and rollback share these. */
const operateFlags = (verb: string): FlagSpec[] => [
  components,
  { name: 'yes', short: 'y', description: `Do not ask for confirmation (required to ${verb} without a terminal)` },
  { name: 'dry-run', description: 'client: only show the steps; server: send every write with dryRun=All', values: { kind: 'choices', choices: ['none', 'client', 'server'] } },
  { name: 'timeout', description: 'Limit of each wait (e.g. 90s, 5m)', values: none },
  { name: 'agent-image', description: 'Image of the short-lived node agent pods', values: none },
];

export const VERBS: readonly VerbSpec[] = [
  {
    name: 'plan',
    description: 'Show what pivot would change',
    flags: [
      { name: 'manifests-dir', description: 'Plan offline from a kubeadm static pod directory', values: { kind: 'dir' } },
      components,
      { name: 'output', short: 'o', description: 'json: the plan document; yaml: the DaemonSets', values: { kind: 'choices', choices: ['json', 'yaml'] } },
    ],
  },
  { name: 'pivot', description: 'Convert the static control plane to DaemonSets', flags: operateFlags('pivot') },
  {
    name: 'status',
    description: 'Show where every component on every node stands',
    flags: [{ name: 'output', short: 'o', description: 'The versioned status document', values: { kind: 'choices', choices: ['json', 'yaml'] } }],
  },
  {
    name: 'rollback',
    description: 'Return to static pods',
    flags: [...operateFlags('rollback'), { name: 'exact', description: 'Restore the byte-identical original manifests' }],
  },
  {
    name: 'version',
    description: 'Print the version of kubectl-selfhost',
    flags: [{ name: 'output', short: 'o', description: 'json: machine-readable', values: { kind: 'choices', choices: ['json'] } }],
  },
  {
    name: 'rbac',
    description: 'Print the RBAC a user needs to run this tool',
    flags: [
      { name: 'bind-user', description: 'Bind the roles to this user', values: none },
      { name: 'bind-group', description: 'Bind the roles to this group', values: none },
      { name: 'read-only', description: 'Only what plan and status need' },
      { name: 'nodes', description: 'Comma-separated control-plane node names', values: none },
    ],
  },
];
