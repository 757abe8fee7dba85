// A fake API server's authorizer: wraps a KubeApi fake so that every request is checked against RBAC rules (a
// ClusterRole and a Role in kube-system, as `kubectl selfhost rbac` prints them) the way the API server's RBAC
// authorizer checks it, answering 403 for what they do not grant; SelfSubjectAccessReviews are answered from the
// same rules. Code run against it proves both that preflight passes and that every request it sends is granted.
import { ApiError, type KubeApi, type Obj } from '../../../src/ports/kube.ts';

export interface Rule { apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; nonResourceURLs?: string[]; verbs: string[] }
export interface Attributes { verb: string; group?: string; resource?: string; subresource?: string; namespace?: string; name?: string; path?: string }

/** What every authenticated user may do (kube-apiserver's system:basic-user and system:public-info-viewer). */
export const BASIC_USER: Rule[] = [
  { apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], verbs: ['create'] },
  { apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], verbs: ['create'] },
  { nonResourceURLs: ['/healthz', '/livez', '/readyz', '/version', '/version/'], verbs: ['get'] },
];

const has = (list: string[] | undefined, v: string) => !!list && (list.includes(v) || list.includes('*'));

function ruleAllows(r: Rule, a: Attributes): boolean {
  if (!has(r.verbs, a.verb)) return false;
  if (a.path !== undefined) return !!r.nonResourceURLs?.some((u) => u === a.path || u === '*' || (u.endsWith('*') && a.path!.startsWith(u.slice(0, -1))));
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource!;
  if (!has(r.apiGroups, a.group ?? '') || !has(r.resources, resource)) return false;
  // As RBAC: a rule with resourceNames never matches a request without a name (list, create).
  return !r.resourceNames?.length || (!!a.name && r.resourceNames.includes(a.name));
}

export interface Grants {
  /** ClusterRole rules (bound with a ClusterRoleBinding: every namespace and cluster-scoped). */
  cluster: Rule[];
  /** Role rules in kube-system. */
  kubeSystem: Rule[];
}

export function authorize(g: Grants, a: Attributes): boolean {
  if ([...g.cluster, ...BASIC_USER].some((r) => ruleAllows(r, a))) return true;
  return a.namespace === 'kube-system' && a.path === undefined && g.kubeSystem.some((r) => ruleAllows(r, a));
}

/** The RBAC attributes of a request, as the API server's request-info resolver derives them. */
export function attributesOf(method: string, fullPath: string): Attributes {
  const path = fullPath.split('?')[0]!;
  const parts = path.split('/').filter(Boolean);
  let rest: string[];
  let group: string;
  if (parts[0] === 'api') { group = ''; rest = parts.slice(2); } else if (parts[0] === 'apis') { group = parts[1]!; rest = parts.slice(3); } else {
    return { verb: method.toLowerCase() === 'get' ? 'get' : method.toLowerCase(), path };
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length > 2) { namespace = rest[1]; rest = rest.slice(2); }
  const [resource, name, subresource] = rest;
  const verb = { GET: name ? 'get' : 'list', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' }[method] ?? method.toLowerCase();
  return { verb, group, resource: resource!, ...(subresource ? { subresource } : {}), ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) };
}

/** The rules of the objects `kubectl selfhost rbac` prints. */
export function grantsOf(objects: readonly object[]): Grants {
  const rulesOf = (kind: string) => objects.filter((o) => (o as { kind: string }).kind === kind).flatMap((o) => (o as { rules: Rule[] }).rules);
  return { cluster: rulesOf('ClusterRole'), kubeSystem: rulesOf('Role') };
}

export interface AuthorizingKube extends KubeApi {
  /** Every request refused, as "verb resource[/sub] name in namespace". */
  refused: string[];
}

export function authorizingKube(inner: KubeApi, grants: Grants, user = 'selfhost-operator'): AuthorizingKube {
  const refused: string[] = [];
  const check = (method: string, path: string) => {
    const a = attributesOf(method, path);
    if (authorize(grants, a)) return;
    const what = a.path ?? `${a.verb} ${a.resource}${a.subresource ? `/${a.subresource}` : ''}${a.group ? `.${a.group}` : ''}${a.name ? ` ${a.name}` : ''}${a.namespace ? ` in ${a.namespace}` : ''}`;
    refused.push(a.path ? `${a.verb} ${a.path}` : what);
    throw new ApiError(403, `${method} ${path}: 403 Forbidden: user "${user}" cannot ${what}`, 'Forbidden');
  };
  return {
    refused,
    async get(path) { check('GET', path); return inner.get(path); },
    async list(path, opts) { check('GET', path); return inner.list(path, opts); },
    async create<T extends Obj>(path: string, body: T, opts?: { dryRun?: boolean }): Promise<T> {
      check('POST', path);
      if (path.endsWith('/selfsubjectaccessreviews')) {
        const spec = (body as unknown as { spec: { resourceAttributes?: Attributes; nonResourceAttributes?: { verb: string; path: string } } }).spec;
        const a = spec.nonResourceAttributes ?? { ...spec.resourceAttributes!, namespace: spec.resourceAttributes!.namespace || undefined, name: spec.resourceAttributes!.name || undefined, subresource: spec.resourceAttributes!.subresource || undefined };
        return { ...body, status: { allowed: authorize(grants, a as Attributes) } };
      }
      if (path.endsWith('/selfsubjectreviews')) return { ...body, status: { userInfo: { username: user, groups: ['system:authenticated'] } } };
      return inner.create(path, body, opts);
    },
    async replace(path, body, opts) { check('PUT', path); return inner.replace(path, body, opts); },
    async patch(path, body, opts) { check('PATCH', path); return inner.patch(path, body, opts); },
    async delete(path, opts) { check('DELETE', path); return inner.delete(path, opts); },
    async raw(path) {
      try { check('GET', path); } catch (err) { return { status: 403, body: (err as Error).message }; }
      return inner.raw(path);
    },
  };
}
