// Decorators of the API port for an operation's writes: the fence (no write unless the run can prove it holds its
// Lease) and the server-side dry run (every write sent with dryRun=All), so that no step decides either itself.
import type { KubeApi } from '../ports/kube.ts';

/** Every create, replace and delete first awaits check(), which throws when the run may no longer write. */
export function fenced(kube: KubeApi, check: () => Promise<void>): KubeApi {
  return {
    get: (p) => kube.get(p),
    list: (p, o) => kube.list(p, o),
    raw: (p) => kube.raw(p),
    create: async (p, b, o) => { await check(); return kube.create(p, b, o); },
    replace: async (p, b, o) => { await check(); return kube.replace(p, b, o); },
    delete: async (p, o) => { await check(); return kube.delete(p, o); },
  };
}

export function serverDryRun(kube: KubeApi): KubeApi {
  return {
    get: (p) => kube.get(p),
    list: (p, o) => kube.list(p, o),
    raw: (p) => kube.raw(p),
    create: (p, b, o) => kube.create(p, b, { ...o, dryRun: true }),
    replace: (p, b, o) => kube.replace(p, b, { ...o, dryRun: true }),
    delete: (p, o) => kube.delete(p, { ...o, dryRun: true }),
  };
}
