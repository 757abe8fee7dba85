// `kubectl selfhost rbac`: prints the ClusterRole, Role and bindings a user needs to run this tool, for
// `kubectl apply -f -` by a cluster admin. Offline: it reads no kubeconfig.
import { UsageError } from '../core/errors.ts';
import { rbacYaml, type Subject } from '../core/rbac.ts';
import type { Io } from '../io.ts';

export interface RbacArgs {
  'bind-user'?: string[];
  'bind-group'?: string[];
  'read-only'?: boolean;
  nodes?: string;
}

// RBAC object names are path segments: anything but "/" and "%". User and group names go into binding names.
const SUBJECT = /^(?!\s*$)[^/%]+$/;
const NODE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export async function rbacCommand(a: RbacArgs, io: Io): Promise<number> {
  for (const flag of ['bind-user', 'bind-group'] as const) {
    if (a[flag]?.length === 0) throw new UsageError(`--${flag} needs a ${flag === 'bind-user' ? 'user' : 'group'} name (e.g. --${flag} ${flag === 'bind-user' ? 'alice' : 'platform-admins'})`);
  }
  const subjects: Subject[] = [
    ...(a['bind-user'] ?? []).map((name) => subject('User', name)),
    ...(a['bind-group'] ?? []).map((name) => subject('Group', name)),
  ];
  const nodes = a.nodes === undefined ? undefined : a.nodes.split(',').map((n) => n.trim()).filter(Boolean);
  if (nodes !== undefined && (nodes.length === 0 || nodes.some((n) => !NODE.test(n) || n.length > 253))) {
    throw new UsageError(`invalid --nodes "${a.nodes}": give the control-plane node names, comma-separated (kubectl get nodes -l node-role.kubernetes.io/control-plane)`);
  }
  io.out(rbacYaml({ readOnly: a['read-only'] === true, subjects, ...(nodes ? { nodes } : {}) }));
  return 0;
}

function subject(kind: Subject['kind'], name: unknown): Subject {
  const flag = kind === 'User' ? '--bind-user' : '--bind-group';
  if (typeof name !== 'string' || !SUBJECT.test(name)) throw new UsageError(`invalid ${flag} "${String(name)}": give the ${kind.toLowerCase()} name as the API server knows it ("kubectl auth whoami"; no "/" or "%")`);
  return { kind, name };
}
