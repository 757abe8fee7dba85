// The command line as data: every verb, its flags, examples and exit codes. src/cli.ts builds the yargs parser
// from it, src/commands/argv.ts reads kubectl's flag spellings with it, and shell completion (src/completion/spec.ts)
// answers from it without loading yargs. A new flag is one entry here (shared lists: CONNECTION_FLAGS, operateFlags).
import { COMPONENTS, parseComponents } from '../core/components.ts';
import { EXIT_CODE_DOCS } from '../core/errors.ts';
import { DEFAULT_AGENT_IMAGE } from '../ports/agent-image.ts';
import { parseDuration, parseVerbosity } from './flag-values.ts';

/** Where completion finds the values of a flag. */
export type Values =
  | { kind: 'none' } // free text (a duration, a number): nothing to offer
  | { kind: 'choices'; choices: readonly string[] }
  | { kind: 'list'; choices: readonly string[] } // comma-separated subset, e.g. --components
  | { kind: 'kubeconfig'; field: 'contexts' | 'clusters' | 'users' }
  | { kind: 'file' }
  | { kind: 'dir' };

export interface Flag {
  name: string;
  short?: string;
  /**
   * As kubectl's flag library has them: string, one value, the last one given wins (pflag String); list,
   * comma-separated, repeats add up (pflag StringSlice); repeated, one value per use (pflag StringArray);
   * boolean, `--x`, `--x=true` or `--x=false`.
   */
  type: 'string' | 'list' | 'repeated' | 'boolean';
  describe: string;
  choices?: readonly string[];
  /** Shown as the default in help; the command applies it, so a flag not typed is absent from the parsed flags. */
  defaultText?: string;
  /** What a value looks like, for the error when none is given. */
  hint?: string;
  /** Checks one value (after choices); throws a UsageError naming the flag. */
  check?: (value: string, label: string) => void;
  /** Where completion finds values (value-taking flags without choices). */
  complete?: Values;
}

export interface Verb {
  name: string;
  describe: string;
  flags: readonly Flag[];
  examples: ReadonlyArray<readonly [string, string]>;
  epilogue?: string;
}

export const REQUEST_TIMEOUT_DEFAULT = '30s';
const text: Pick<Flag, 'type'> = { type: 'string' };

/** kubectl's connection and authentication flags, with kubectl's spelling and precedence over the kubeconfig. */
export const CONNECTION_FLAGS: readonly Flag[] = [
  { name: 'kubeconfig', ...text, describe: 'Path to the kubeconfig file (default: KUBECONFIG, then ~/.kube/config)', hint: 'a file', complete: { kind: 'file' } },
  { name: 'context', ...text, describe: 'The kubeconfig context to use', hint: 'a context name', complete: { kind: 'kubeconfig', field: 'contexts' } },
  { name: 'cluster', ...text, describe: 'The kubeconfig cluster to use', hint: 'a cluster name', complete: { kind: 'kubeconfig', field: 'clusters' } },
  { name: 'user', ...text, describe: 'The kubeconfig user to use', hint: 'a user name', complete: { kind: 'kubeconfig', field: 'users' } },
  { name: 'server', short: 's', ...text, describe: 'The address and port of the Kubernetes API server (overrides the kubeconfig)', hint: 'a URL such as https://10.0.0.1:6443' },
  { name: 'token', ...text, describe: 'Bearer token for authentication to the API server (overrides the kubeconfig user\'s credentials)', hint: 'a token' },
  { name: 'certificate-authority', ...text, describe: 'Path to a cert file for the certificate authority', hint: 'a PEM file', complete: { kind: 'file' } },
  { name: 'client-certificate', ...text, describe: 'Path to a client certificate file for TLS', hint: 'a PEM file', complete: { kind: 'file' } },
  { name: 'client-key', ...text, describe: 'Path to a client key file for TLS', hint: 'a PEM file', complete: { kind: 'file' } },
  { name: 'insecure-skip-tls-verify', type: 'boolean', describe: 'Do not check the server\'s certificate (insecure)' },
  { name: 'tls-server-name', ...text, describe: 'Server name to use for server certificate validation (default: the server\'s host name)', hint: 'a DNS name' },
  { name: 'as', ...text, describe: 'Username to impersonate for the operation', hint: 'a user name' },
  { name: 'as-group', type: 'repeated', describe: 'Group to impersonate for the operation; repeat it for several groups (needs --as)', hint: 'a group name' },
  { name: 'as-uid', ...text, describe: 'UID to impersonate for the operation (needs --as)', hint: 'a UID' },
  {
    name: 'request-timeout', ...text, defaultText: REQUEST_TIMEOUT_DEFAULT, hint: 'a duration such as 30s',
    describe: 'How long to wait for one API request (e.g. 10s, 1m; 0: no limit). A request that takes more than a few seconds is named on stderr',
    check: (v, label) => void parseDuration(v, label, { zero: 'for no limit' }),
  },
];

/** Output flags every verb takes. */
export const DISPLAY_FLAGS: readonly Flag[] = [
  { name: 'v', ...text, defaultText: '0', describe: 'Log verbosity from 0 to 10, as kubectl: -v=6, -v 6, --v=6 or -v6 (6 and above print stack traces of errors)', hint: 'a level such as 6', check: (v, label) => void parseVerbosity(v, label) },
  { name: 'color', ...text, choices: ['auto', 'always', 'never'], defaultText: 'auto', describe: 'Colour output (auto: only on a terminal, never with NO_COLOR)' },
];

export const GLOBAL_FLAGS: readonly Flag[] = [...CONNECTION_FLAGS, ...DISPLAY_FLAGS];

const components: Flag = {
  name: 'components', type: 'list', hint: `one or more of ${COMPONENTS.join(', ')}, separated by commas`,
  describe: `Comma-separated subset: ${COMPONENTS.join(',')} (or the short names apiserver, controller-manager, scheduler); may be repeated`,
  check: (v) => void parseComponents(v), complete: { kind: 'list', choices: COMPONENTS },
};
const output = (choices: readonly string[], describe: string): Flag => ({ name: 'output', short: 'o', ...text, choices, describe });

/** pivot and rollback share these. */
export const operateFlags = (verb: string): Flag[] => [
  components,
  { name: 'yes', short: 'y', type: 'boolean', describe: `Do not ask for confirmation (required to ${verb} without a terminal)` },
  { name: 'dry-run', ...text, choices: ['none', 'client', 'server'], defaultText: 'none', describe: 'client: only show the steps; server: send every write with dryRun=All' },
  { name: 'timeout', ...text, defaultText: '5m', hint: 'a duration such as 5m', describe: 'Limit of each wait (e.g. 90s, 5m)', check: (v, label) => void parseDuration(v, label) },
  { name: 'agent-image', ...text, defaultText: DEFAULT_AGENT_IMAGE, hint: 'an image reference', describe: 'Image of the short-lived node agent pods (busybox sh, cp, mv, base64); mirror it for air-gapped clusters' },
];

const exitCodes = (only: readonly number[]) =>
  `Exit codes:\n${EXIT_CODE_DOCS.filter(([code]) => only.includes(code)).map(([code, what]) => `  ${code}  ${what}`).join('\n')}`;
const ERRORS = [2, 3, 4, 5, 6];
/** Verbs that read no cluster and no file: done, a bad flag, or their output could not be written. */
const OFFLINE = [0, 2, 6];

/** How rollback chooses what it restores (rollback, and plan --rollback). */
function rollbackChoices(prefix: string): Flag[] {
  return [
    { name: 'to-original', type: 'boolean', describe: `${prefix}restore the pivot-time original manifests instead of what the DaemonSets run now (edits made through the API are dropped)` },
    { name: 'force', type: 'boolean', describe: `${prefix}allow restoring an older version than the one that runs (a downgrade)` },
    { name: 'exact', type: 'boolean', describe: `${prefix}restore the byte-identical original manifests (one more restart each) instead of keeping --permit-port-sharing` },
  ];
}

export const VERBS: readonly Verb[] = [
  {
    name: 'plan',
    describe: 'Show what pivot would change: a diff per component and the steps, or -o json|yaml',
    flags: [
      { name: 'manifests-dir', ...text, hint: 'a directory such as /etc/kubernetes/manifests', complete: { kind: 'dir' }, describe: 'Plan offline from a kubeadm static pod directory (e.g. a copy of /etc/kubernetes/manifests); no cluster needed' },
      components,
      output(['json', 'yaml'], 'json: the versioned plan document; yaml: the DaemonSets it would create (with --rollback: the static manifests rollback would write)'),
      { name: 'rollback', type: 'boolean', describe: 'Show what rollback would do instead: per node, the static manifest it writes, diffed against the pivot-time original' },
      ...rollbackChoices('With --rollback: '),
    ],
    examples: [
      ['kubectl selfhost plan', 'What pivot would do on the current context'],
      ['kubectl selfhost plan --rollback', 'What rollback would write, and the edits made through the API since pivot'],
      ['kubectl selfhost plan --context prod --components kube-scheduler', 'One component, on another context'],
      ['kubectl selfhost plan -o yaml | kubectl apply --dry-run=server -f -', 'The DaemonSets, checked by the API server'],
      ['kubectl selfhost plan --manifests-dir /etc/kubernetes/manifests', 'Offline, from a node\'s manifests (or a copy)'],
    ],
    epilogue: exitCodes([0, 1, ...ERRORS]),
  },
  {
    name: 'pivot',
    describe: 'Convert the static control plane to DaemonSets, component by component, node by node',
    flags: operateFlags('pivot'),
    examples: [
      ['kubectl selfhost pivot --dry-run=client', 'Only show the steps'],
      ['kubectl selfhost pivot --components kube-scheduler --yes', 'Pivot the scheduler alone, without asking'],
      ['kubectl selfhost pivot --context prod --timeout 10m', 'Allow each wait 10 minutes'],
    ],
    epilogue: exitCodes([0, ...ERRORS]),
  },
  {
    name: 'status',
    describe: 'Show where every component on every control-plane node stands',
    flags: [output(['json', 'yaml'], 'The versioned status document')],
    examples: [
      ['kubectl selfhost status', 'A table per node and component'],
      ['kubectl selfhost status -o json | jq -r .summary', 'healthy, degraded or mid-way, for scripts'],
    ],
    epilogue: exitCodes([0, 1, ...ERRORS]),
  },
  {
    name: 'rollback',
    describe: 'Return to static pods from any state pivot can leave',
    flags: [...operateFlags('rollback'), ...rollbackChoices('')],
    examples: [
      ['kubectl selfhost rollback --yes', 'Everything back to static pods, as the DaemonSets run them now'],
      ['kubectl selfhost rollback --to-original --yes', 'Back to the manifests pivot found (edits made through the API are dropped)'],
      ['kubectl selfhost rollback --components kube-apiserver --exact --yes', 'The apiserver only, with its original manifest'],
    ],
    epilogue: exitCodes([0, ...ERRORS]),
  },
  {
    name: 'version',
    describe: 'Print the version of kubectl-selfhost',
    flags: [output(['json'], 'json: machine-readable')],
    examples: [['kubectl selfhost version -o json', 'Version, commit, Node.js and platform as JSON']],
    epilogue: exitCodes(OFFLINE),
  },
  {
    name: 'rbac',
    describe: 'Print the ClusterRole, Role and bindings a user needs to run this tool (for kubectl apply -f -)',
    flags: [
      { name: 'bind-user', type: 'repeated', hint: 'a user name', describe: 'Bind the roles to this user (repeatable)' },
      { name: 'bind-group', type: 'repeated', hint: 'a group name', describe: 'Bind the roles to this group (repeatable)' },
      { name: 'read-only', type: 'boolean', describe: 'Only what plan and status need' },
      { name: 'nodes', ...text, hint: 'node names separated by commas', describe: 'Comma-separated control-plane node names: limits the ConfigMap rules to their backups' },
    ],
    examples: [
      ['kubectl selfhost rbac --bind-user alice | kubectl apply -f -', 'Let alice plan, pivot, read status and roll back'],
      ['kubectl selfhost rbac --read-only --bind-group sre', 'Only plan and status, for a group'],
    ],
    epilogue: exitCodes(OFFLINE),
  },
];

/** kubectl's help layout: each example a comment line and the command under it, then the exit codes. */
export function verbEpilogue(v: Verb): string {
  const examples = v.examples.map(([cmd, what]) => `  # ${what}\n  ${cmd}`).join('\n\n');
  return [`Examples:\n${examples}`, v.epilogue].filter(Boolean).join('\n\n');
}

export const TOP_EPILOGUE = `${exitCodes(EXIT_CODE_DOCS.map(([code]) => code))}\n\nRun "kubectl selfhost <command> --help" for a command's flags and examples.`;

export function verbNamed(name: string | undefined): Verb | undefined {
  return VERBS.find((v) => v.name === name);
}

/** The flags a verb accepts (global ones first), or the global ones alone. */
export function flagsOf(verb: Verb | undefined): readonly Flag[] {
  return verb ? [...GLOBAL_FLAGS, ...verb.flags] : GLOBAL_FLAGS;
}

/** How a flag is written in messages: -v for kubectl's one-letter flags, --name otherwise. */
export const labelOf = (f: Pick<Flag, 'name'>) => (f.name.length === 1 ? `-${f.name}` : `--${f.name}`);
