// Decorators of the API port for an operation's writes: the fence (no write unless the run can prove it holds its
// Lease) and the server-side dry run (every write sent with dryRun=All), so that no step decides either itself.
import { DeadlineError, type KubeApi } from '../ports/kube.ts';
import { LockLostError } from './lock.ts';

/** Throws when the run may no longer write; else resolves to the time (epoch ms) until which it may, if any. */
export type WriteCheck = () => Promise<number | undefined>;

/**
 * Every create, replace, patch and delete first awaits check(), and is sent with the deadline it gives: the API port
 * sends no attempt of it (retries included) after that time and abandons one still under way then, so no write
 * of this run reaches the server after its Lease may have passed on.
 */
export function fenced(kube: KubeApi, check: WriteCheck): KubeApi {
  const write = async <T>(send: (deadline: number | undefined) => Promise<T>): Promise<T> => {
    const deadline = await check();
    try {
      return await send(deadline);
    } catch (err) {
      if (err instanceof DeadlineError) throw new LockLostError(`${err.message} (the run's Lease may have expired by then, API unreachable?); stopping before the next write (resume with the same command when the API answers)`);
      throw err;
    }
  };
  const at = (deadline: number | undefined) => (deadline === undefined ? {} : { deadline });
  return {
    get: (p) => kube.get(p),
    list: (p, o) => kube.list(p, o),
    raw: (p, o) => kube.raw(p, o),
    create: (p, b, o) => write((d) => kube.create(p, b, { ...o, ...at(d) })),
    replace: (p, b, o) => write((d) => kube.replace(p, b, { ...o, ...at(d) })),
    patch: (p, b, o) => write((d) => kube.patch(p, b, { ...o, ...at(d) })),
    delete: (p, o) => write((d) => kube.delete(p, { ...o, ...at(d) })),
  };
}

export function serverDryRun(kube: KubeApi): KubeApi {
  return {
    get: (p) => kube.get(p),
    list: (p, o) => kube.list(p, o),
    raw: (p, o) => kube.raw(p, o),
    create: (p, b, o) => kube.create(p, b, { ...o, dryRun: true }),
    replace: (p, b, o) => kube.replace(p, b, { ...o, dryRun: true }),
    patch: (p, b, o) => kube.patch(p, b, { ...o, dryRun: true }),
    delete: (p, o) => kube.delete(p, { ...o, dryRun: true }),
  };
}
