// Every request this tool sends to the API server, as one table: preflight asks SelfSubjectAccessReviews for the
// rows of the verb it runs, and `kubectl selfhost rbac` (deploy/rbac.yaml) grants exactly these rows. A request
// the code sends that is not here is a bug: add its row, then `npm test` says how to regenerate deploy/rbac.yaml.
import { HELPER_ARCHS, helperConfigMapName } from './port-sharing.ts';
import { COMPONENTS } from './components.ts';
import { GUARD_NAME } from './endpoint-guard.ts';
import { NAMESPACE } from './labels.ts';
import { LOCK_NAME } from '../pivot/lock.ts';
import { backupConfigMapName } from '../pivot/store.ts';
import { CHECKPOINTS_CONFIGMAP, JOURNAL_CONFIGMAP } from '../sources/cluster.ts';

export const TOOL_VERBS = ['plan', 'status', 'pivot', 'rollback'] as const;
export type ToolVerb = (typeof TOOL_VERBS)[number];
/** What plan and status need: reads only. */
export const READ_ONLY_VERBS: readonly ToolVerb[] = ['plan', 'status'];

/** Only these objects (RBAC resourceNames): fixed names, and one per control-plane node. */
export interface Names {
  fixed: readonly string[];
  perNode?: (node: string) => string;
  /** Why a rule without --nodes is not limited (deploy/rbac.yaml's header); the backups' reason by default. */
  unlimited?: string;
}

export type Permission = { verb: string; usedBy: readonly ToolVerb[]; why: string } & (
  | { group: string; resource: string; subresource?: string; namespaced: boolean; names?: Names }
  | { url: string }
);

/** One question for a SelfSubjectAccessReview: a verb on a resource (maybe one object), or on a URL. */
export type Access =
  | { verb: string; group: string; resource: string; subresource?: string; namespace?: string; name?: string }
  | { verb: string; url: string };

const ALL: readonly ToolVerb[] = TOOL_VERBS;
const OPERATE: readonly ToolVerb[] = ['pivot', 'rollback'];
const core = (resource: string, rest: { subresource?: string; names?: Names } = {}) => ({ group: '', resource, namespaced: true, ...rest });
const records: Names = { fixed: [JOURNAL_CONFIGMAP, CHECKPOINTS_CONFIGMAP], perNode: backupConfigMapName };
const lease: Names = { fixed: [LOCK_NAME] };
const helperConfigMaps: Names = { fixed: HELPER_ARCHS.map(helperConfigMapName) };
const daemonSets: Names = { fixed: COMPONENTS };
const ds = (names?: Names) => ({ group: 'apps', resource: 'daemonsets', namespaced: true, ...(names ? { names } : {}) });
const guardNames: Names = { fixed: [GUARD_NAME] };
const guard = (names?: Names) => ({ group: 'admissionregistration.k8s.io', resource: 'validatingadmissionpolicies', namespaced: false, ...(names ? { names } : {}) });
const guardBinding = (names?: Names) => ({ group: 'admissionregistration.k8s.io', resource: 'validatingadmissionpolicybindings', namespaced: false, ...(names ? { names } : {}) });
const leases = (names?: Names) => ({ group: 'coordination.k8s.io', resource: 'leases', namespaced: true, ...(names ? { names } : {}) });

// RBAC cannot restrict create (nor list) to object names: those rows have none.
export const PERMISSIONS: readonly Permission[] = [
  { verb: 'list', group: '', resource: 'nodes', namespaced: false, usedBy: ALL, why: 'the control-plane nodes: readiness and InternalIP' },
  { verb: 'get', group: '', resource: 'nodes', subresource: 'proxy', namespaced: false, usedBy: ALL, why: "each kubelet's /configz: its real staticPodPath" },
  // Per node, as the backups: asked about once the nodes are known; a role generated with --nodes must be
  // generated again for a node that joins (the next pivot labels it), one without is not limited.
  { verb: 'patch', group: '', resource: 'nodes', namespaced: false, names: { fixed: [], perNode: (n) => n, unlimited: 'any node: only with --nodes NODE,... can the rule name them (generate it again when a control-plane node joins)' }, usedBy: OPERATE, why: "the node gate: pivot labels a node kubectl-selfhost.dev/self-hosted-<component>=true once it hands that component over there (its DaemonSet selects only such nodes); rollback removes the label" },
  { verb: 'get', url: '/readyz/etcd', usedBy: ['status'], why: 'etcd health, through the apiserver' },
  { verb: 'get', url: '/metrics', usedBy: OPERATE, why: "process_start_time_seconds on each node's apiserver: which process serves during a hand-over" },
  { verb: 'create', group: 'authorization.k8s.io', resource: 'selfsubjectaccessreviews', namespaced: false, usedBy: ALL, why: 'preflight: this table, checked before anything else (every authenticated user has it: system:basic-user)' },
  { verb: 'list', ...core('pods'), usedBy: ALL, why: 'mirror pods, DaemonSet pods, node agents left by a killed run' },
  { verb: 'get', ...core('pods'), usedBy: OPERATE, why: 'waits on mirror pods, DaemonSet pods, node agents, the checkpointer' },
  { verb: 'create', ...core('pods'), usedBy: OPERATE, why: "node agents: short-lived pods that read and write the node's static pod files" },
  { verb: 'delete', ...core('pods'), usedBy: OPERATE, why: 'node agents, once done' },
  { verb: 'get', ...core('pods', { subresource: 'log' }), usedBy: OPERATE, why: "a node agent's answer (a file's content)" },
  { verb: 'list', ...core('events'), usedBy: OPERATE, why: "a pod's last events, in the message of a failed wait" },
  { verb: 'list', ...ds(), usedBy: ALL, why: "this tool's DaemonSets (by label)" },
  { verb: 'get', ...ds(daemonSets), usedBy: OPERATE, why: "a component's DaemonSet before it is created, updated or deleted" },
  { verb: 'create', ...ds(), usedBy: ['pivot'], why: "a component's DaemonSet" },
  { verb: 'update', ...ds(daemonSets), usedBy: ['pivot'], why: 'a DaemonSet whose static pod changed since' },
  { verb: 'delete', ...ds(daemonSets), usedBy: ['rollback'], why: 'a DaemonSet, once its static pods serve again' },
  { verb: 'get', group: '', resource: 'namespaces', namespaced: false, names: { fixed: [NAMESPACE] }, usedBy: ALL, why: 'the kube-system UID, which names this cluster in the node backups (a directory kubeadm reset left is refused)' },
  { verb: 'list', ...core('configmaps'), usedBy: ALL, why: "this tool's records in one read, by label: the journal, the checkpoint record, the backup copies" },
  { verb: 'get', ...core('configmaps', { names: records }), usedBy: ALL, why: 'the journal, the checkpoint record, the cluster copies of the backups' },
  { verb: 'create', ...core('configmaps'), usedBy: OPERATE, why: 'the journal, the checkpoint record, the cluster copies of the backups, the node helper for one call (pivot)' },
  { verb: 'update', ...core('configmaps', { names: records }), usedBy: OPERATE, why: 'the journal after each step, the checkpoint record, a backup copy' },
  { verb: 'delete', ...core('configmaps', { names: records }), usedBy: ['rollback'], why: 'the backup copies and the checkpoint record, at the end of a rollback' },
  { verb: 'update', ...core('configmaps', { names: helperConfigMaps }), usedBy: ['pivot'], why: 'the node helper, in place of one a killed run left' },
  { verb: 'delete', ...core('configmaps', { names: helperConfigMaps }), usedBy: OPERATE, why: 'the node helper, once it has run on the node, or one a killed run left (either verb)' },
  { verb: 'create', ...guard(), usedBy: OPERATE, why: 'the endpoint guard: while apiservers are handed over, the kubernetes Service keeps their addresses (src/core/endpoint-guard.ts); it can refuse only updates of default/kubernetes' },
  { verb: 'create', ...guardBinding(), usedBy: OPERATE, why: "the endpoint guard's binding" },
  { verb: 'get', ...guard(guardNames), usedBy: ALL, why: 'the endpoint guard: one left by a killed run, reported (status), replaced or removed' },
  { verb: 'get', ...guardBinding(guardNames), usedBy: ALL, why: "the endpoint guard's binding: one left by a killed run" },
  { verb: 'update', ...guard(guardNames), usedBy: OPERATE, why: 'the endpoint guard, in place of one a killed run left' },
  { verb: 'update', ...guardBinding(guardNames), usedBy: OPERATE, why: "the endpoint guard's binding, in place of one a killed run left" },
  { verb: 'delete', ...guard(guardNames), usedBy: OPERATE, why: 'the endpoint guard, after the last apiserver hand-over' },
  { verb: 'delete', ...guardBinding(guardNames), usedBy: OPERATE, why: "the endpoint guard's binding, after the last apiserver hand-over" },
  { verb: 'get', ...leases(lease), usedBy: OPERATE, why: 'the lock: one run at a time' },
  { verb: 'create', ...leases(), usedBy: OPERATE, why: 'the lock, when no run holds it' },
  { verb: 'update', ...leases(lease), usedBy: OPERATE, why: 'the lock: taking over an expired one, renewing it' },
  { verb: 'delete', ...leases(lease), usedBy: OPERATE, why: 'the lock, released at the end of a run' },
];

/** The rows any of the given verbs needs. */
export const permissionsFor = (verbs: readonly ToolVerb[]): Permission[] => PERMISSIONS.filter((p) => p.usedBy.some((v) => verbs.includes(v)));

/**
 * The object names a row is limited to, or undefined for any object. Names that depend on the nodes are known only
 * with the nodes: without them the row cannot be limited (RBAC has no prefix match).
 */
export function namesOf(p: Permission, nodes?: readonly string[]): string[] | undefined {
  if (!('names' in p) || !p.names) return undefined;
  if (p.names.perNode && nodes === undefined) return undefined;
  return [...p.names.fixed, ...(nodes ?? []).map((n) => p.names!.perNode?.(n)).filter((n): n is string => n !== undefined)];
}

/**
 * The access reviews that prove the verbs may run: one per row and object name. Without the nodes (before the
 * cluster is read) the per-node names are left out and the fixed ones asked about, which roles limited to names
 * and unlimited roles both grant; ask again with the nodes once they are known to cover the backups too.
 */
export function accessFor(verbs: readonly ToolVerb[], nodes?: readonly string[]): Access[] {
  return permissionsFor(verbs).flatMap((p): Access[] => {
    if ('url' in p) return [{ verb: p.verb, url: p.url }];
    const base = { verb: p.verb, group: p.group, resource: p.resource, ...(p.subresource ? { subresource: p.subresource } : {}), ...(p.namespaced ? { namespace: NAMESPACE } : {}) };
    const names = p.names && nodes === undefined ? p.names.fixed : namesOf(p, nodes);
    // Only per-node names, and the nodes not known yet: nothing to ask until they are.
    if (p.names?.perNode && p.names.fixed.length === 0 && names?.length === 0) return [];
    return names === undefined || names.length === 0 ? [base] : names.map((name) => ({ ...base, name }));
  });
}

/** "create pods", "get pods/log", "get leases.coordination.k8s.io", "get /metrics": how a row reads in a message. */
export function targetOf(a: Access | Permission): string {
  if ('url' in a) return a.url;
  return `${a.resource}${a.subresource ? `/${a.subresource}` : ''}${a.group ? `.${a.group}` : ''}`;
}

/**
 * Denied accesses as one short list: "get/update leases.coordination.k8s.io kubectl-selfhost in kube-system; list nodes".
 * Verbs on the same objects are joined, then objects with the same verbs.
 */
export function describeAccess(denied: readonly Access[]): string {
  const byObject = new Map<string, { a: Access; verbs: string[] }>();
  for (const a of denied) {
    const key = `${targetOf(a)}|${'namespace' in a ? a.namespace ?? '' : ''}|${'name' in a ? a.name ?? '' : ''}`;
    const entry = byObject.get(key) ?? byObject.set(key, { a, verbs: [] }).get(key)!;
    entry.verbs.push(a.verb);
  }
  const byVerbs = new Map<string, { a: Access; verbs: string[]; names: string[] }>();
  for (const { a, verbs } of byObject.values()) {
    const key = `${verbs.join('/')}|${targetOf(a)}|${'namespace' in a ? a.namespace ?? '' : ''}|${'name' in a && a.name ? 'named' : ''}`;
    const entry = byVerbs.get(key) ?? byVerbs.set(key, { a, verbs, names: [] }).get(key)!;
    if ('name' in a && a.name) entry.names.push(a.name);
  }
  return [...byVerbs.values()]
    .map(({ a, verbs, names }) => `${verbs.join('/')} ${targetOf(a)}${names.length ? ` ${names.join(',')}` : ''}${'namespace' in a && a.namespace ? ` in ${a.namespace}` : ''}`)
    .join('; ');
}
