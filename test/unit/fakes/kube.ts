// A small in-memory fake of the KubeApi port (not an API server): objects by path, a call log for order
// assertions, label-selector matching for lists, and hooks to script failures or raw answers. onWrite lets a
// fake controller (fakes/kubelet.ts) react to what was persisted, the way a watch would.
import { ApiError, type KubeApi, type ListOptions, type Obj } from '../../../src/ports/kube.ts';
import { GUARD_CHECK, GUARD_MARK, GUARD_NAME, guardPaths } from '../../../src/core/endpoint-guard.ts';

export interface FakeKube extends KubeApi {
  objects: Map<string, Obj>;
  calls: string[];
  rawAnswers: Map<string, { status: number; body: string }>;
  put(collectionPath: string, obj: Obj): void;
  /** Called after each persisted write (never for a dry run), with the object's path. */
  onWrite?: (verb: 'create' | 'replace' | 'patch' | 'delete', path: string) => void | Promise<void>;
}

function matches(obj: Obj, selector: string | undefined): boolean {
  if (!selector) return true;
  const labels = (obj.metadata['labels'] ?? {}) as Record<string, string>;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return v === undefined ? k! in labels : labels[k!] === v;
  });
}

/** RFC 7386 JSON merge patch: objects merge key by key, null removes a key, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export function fakeKube(): FakeKube {
  const objects = new Map<string, Obj>();
  const calls: string[] = [];
  const rawAnswers = new Map<string, { status: number; body: string }>();
  const key = (collection: string, name: string) => `${collection}/${name}`;
  const f: FakeKube = {
    objects, calls, rawAnswers,
    put(collection, obj) {
      objects.set(key(collection, obj.metadata.name!), structuredClone(obj));
    },
    async get<T>(path: string) {
      calls.push(`GET ${path}`);
      const o = objects.get(path);
      return (o ? structuredClone(o) : null) as T | null;
    },
    async list<T>(path: string, opts: ListOptions = {}) {
      calls.push(`LIST ${path}${opts.labelSelector ? `?${opts.labelSelector}` : ''}${opts.fieldSelector ? `?${opts.fieldSelector}` : ''}`);
      // metadata.name=<name> is applied; any other field selector (the events' involvedObject) is not modelled.
      const name = opts.fieldSelector?.match(/^metadata\.name=(.+)$/)?.[1];
      return [...objects.entries()]
        .filter(([k, o]) => k.startsWith(`${path}/`) && !k.slice(path.length + 1).includes('/') && matches(o, opts.labelSelector) && (name === undefined || o.metadata.name === name))
        .map(([, o]) => structuredClone(o)) as T[];
    },
    async create<T extends Obj>(path: string, body: T, o?: { dryRun?: boolean }) {
      calls.push(`CREATE ${path}/${body.metadata.name}${o?.dryRun ? ' (dry-run)' : ''}`);
      const k = key(path, body.metadata.name!);
      if (objects.has(k)) throw new ApiError(409, `${k} already exists`, 'AlreadyExists');
      // The endpoint guard's own check, as the API's admission answers it while the guard's policy and binding exist.
      if (k === `/api/v1/namespaces/kube-system/configmaps/${GUARD_CHECK}` && objects.has(guardPaths.policy(GUARD_NAME)) && objects.has(guardPaths.binding(GUARD_NAME))) {
        throw new ApiError(422, `configmaps "${GUARD_CHECK}" is invalid: : ValidatingAdmissionPolicy '${GUARD_NAME}' with binding '${GUARD_NAME}' denied request: ${GUARD_MARK} default/kubernetes: the guard is in force`, 'Invalid');
      }
      if (!o?.dryRun) {
        objects.set(k, structuredClone(body));
        await f.onWrite?.('create', k);
      }
      return structuredClone(body);
    },
    async replace<T extends Obj>(path: string, body: T, o?: { dryRun?: boolean }) {
      calls.push(`REPLACE ${path}${o?.dryRun ? ' (dry-run)' : ''}`);
      if (!objects.has(path)) throw new ApiError(404, `${path} not found`, 'NotFound');
      if (!o?.dryRun) {
        objects.set(path, structuredClone(body));
        await f.onWrite?.('replace', path);
      }
      return structuredClone(body);
    },
    async patch<T>(path: string, body: object, o?: { dryRun?: boolean }) {
      calls.push(`PATCH ${path} ${JSON.stringify(body)}${o?.dryRun ? ' (dry-run)' : ''}`);
      const current = objects.get(path);
      if (!current) throw new ApiError(404, `${path} not found`, 'NotFound');
      const patched = mergePatch(current, body) as Obj;
      if (!o?.dryRun) {
        objects.set(path, patched);
        await f.onWrite?.('patch', path);
      }
      return structuredClone(patched) as T;
    },
    async delete(path, o = {}) {
      calls.push(`DELETE ${path}${o.dryRun ? ' (dry-run)' : ''}`);
      if (!objects.has(path)) return false;
      if (!o.dryRun) {
        objects.delete(path);
        await f.onWrite?.('delete', path);
      }
      return true;
    },
    async raw(path) {
      calls.push(`RAW ${path}`);
      return rawAnswers.get(path) ?? { status: 404, body: 'not found' };
    },
  };
  return f;
}
