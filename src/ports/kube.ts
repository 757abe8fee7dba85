// The Kubernetes API port. One real implementation (kube-rest.ts: client-node's kubeconfig, auth and TLS under
// plain REST calls, so objects travel unmodified), and small fakes in test/unit/fakes.
export type Obj = { apiVersion?: string; kind?: string; metadata: { name?: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown };

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
}

export interface WriteOptions {
  /** Server-side dry run: the request is sent with dryRun=All and nothing is persisted. */
  dryRun?: boolean;
  /**
   * Epoch ms after which the write must not reach the server: it is not sent once that time has passed, and an
   * attempt still under way then is abandoned (the run's Lease may have passed to another run by then).
   */
  deadline?: number;
}

/** A write not sent, or abandoned, because its deadline (WriteOptions.deadline) had passed. */
export class DeadlineError extends Error {
  readonly code = 'EDEADLINE';
}

/** once: ask one time, whatever the answer (the retrying port otherwise asks again on transient statuses). */
export interface RawOptions {
  once?: boolean;
}

export interface KubeApi {
  /** GET a path; resolves to the parsed JSON, or null on 404. */
  get<T = Obj>(path: string): Promise<T | null>;
  list<T = Obj>(path: string, opts?: ListOptions): Promise<T[]>;
  create<T extends Obj>(path: string, body: T, opts?: WriteOptions): Promise<T>;
  replace<T extends Obj>(path: string, body: T, opts?: WriteOptions): Promise<T>;
  /**
   * A JSON merge patch (RFC 7386): only the keys given change, a null removes one. For what may be sent twice
   * without harm (a node label set or removed), where a replace would race the kubelet's own node updates.
   */
  patch<T = Obj>(path: string, body: object, opts?: WriteOptions): Promise<T>;
  /** DELETE; resolves false if it was already gone. */
  delete(path: string, opts?: WriteOptions & { gracePeriodSeconds?: number; propagationPolicy?: 'Foreground' | 'Background' | 'Orphan' }): Promise<boolean>;
  /** GET a non-JSON path (readyz, pod logs, configz): status code and text, never throws on HTTP status. */
  raw(path: string, opts?: RawOptions): Promise<{ status: number; body: string }>;
}

/** An HTTP error from the API server, with its Status reason when the body had one. */
export class ApiError extends Error {
  readonly status: number;
  readonly reason: string | undefined;
  constructor(status: number, message: string, reason?: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

/** Paths for the resources this tool touches, so callers never build URLs by hand. */
export const paths = {
  nodes: () => '/api/v1/nodes',
  node: (name: string) => `/api/v1/nodes/${name}`,
  namespace: (ns: string) => `/api/v1/namespaces/${ns}`,
  nodeConfigz: (node: string) => `/api/v1/nodes/${node}/proxy/configz`,
  pods: (ns: string) => `/api/v1/namespaces/${ns}/pods`,
  pod: (ns: string, name: string) => `/api/v1/namespaces/${ns}/pods/${name}`,
  podLog: (ns: string, name: string) => `/api/v1/namespaces/${ns}/pods/${name}/log`,
  events: (ns: string) => `/api/v1/namespaces/${ns}/events`,
  configMaps: (ns: string) => `/api/v1/namespaces/${ns}/configmaps`,
  configMap: (ns: string, name: string) => `/api/v1/namespaces/${ns}/configmaps/${name}`,
  daemonSets: (ns: string) => `/apis/apps/v1/namespaces/${ns}/daemonsets`,
  daemonSet: (ns: string, name: string) => `/apis/apps/v1/namespaces/${ns}/daemonsets/${name}`,
  leases: (ns: string) => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
  lease: (ns: string, name: string) => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${name}`,
  selfSubjectAccessReviews: () => '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
  selfSubjectReviews: () => '/apis/authentication.k8s.io/v1/selfsubjectreviews',
};

/**
 * Tells apiserver processes apart from outside: `process_start_time_seconds` from /metrics, each sample over a new
 * connection to one node's address. With SO_REUSEPORT the kernel spreads new connections over every process bound
 * to the port, so the set of values says which processes serve. (Both share one identity Lease per host, so the
 * Lease cannot tell them apart.)
 */
export interface ApiProbe {
  startTimes(address: string, port: number, samples: number): Promise<number[]>;
}

/**
 * Create body in collection, or, where it exists (left by a killed run), replace the object at path with it, carrying
 * the existing resourceVersion (some kinds, admission policies among them, take no unconditional update).
 */
export async function createOrReplace(kube: KubeApi, collection: string, path: string, body: Obj): Promise<void> {
  await kube.create(collection, body).catch(async (err: unknown) => {
    if (!(err instanceof ApiError && err.status === 409)) throw err;
    const existing = await kube.get(path);
    await kube.replace(path, { ...body, metadata: { ...body.metadata, resourceVersion: existing?.metadata['resourceVersion'] } });
  });
}
