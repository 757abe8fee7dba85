// Typed errors, mapped to exit codes by the one error boundary in src/cli.ts. Messages are lower-case, say what
// is wrong and what to do; layers add context with `wrap`.

export type ErrorKind = 'usage' | 'config' | 'cluster' | 'precondition' | 'failed' | 'not-implemented';

export class SelfhostError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
  }
}

export class UsageError extends SelfhostError {
  constructor(message: string) {
    super('usage', message);
  }
}

export class ConfigError extends SelfhostError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('config', message, options);
  }
}

export class ClusterError extends SelfhostError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('cluster', message, options);
  }
}

export class PreconditionError extends SelfhostError {
  constructor(message: string) {
    super('precondition', message);
  }
}

/** Adds context to an error ("cannot pivot kube-scheduler: <cause>") keeping its kind. */
export function wrap(context: string, err: unknown): SelfhostError {
  const msg = err instanceof Error ? err.message : String(err);
  const kind = err instanceof SelfhostError ? err.kind : 'failed';
  return new SelfhostError(kind, `${context}: ${msg}`, { cause: err });
}

/** Exit codes: 0 and 1 are the verbs' own (e.g. plan: 1 = changes planned); errors are > 1, as kubectl diff. */
export const EXIT_CODES: Record<ErrorKind, number> = {
  usage: 2,
  'not-implemented': 2,
  config: 3,
  cluster: 4,
  precondition: 5,
  failed: 6,
};

/** What each exit code means, for --help and the README (a unit test keeps the README in step with this list). */
export const EXIT_CODE_DOCS: ReadonlyArray<readonly [number, string]> = [
  [0, 'done; plan: nothing to do; status: healthy'],
  [1, 'plan: changes planned; status: degraded or mid-way (as kubectl diff)'],
  [2, 'usage: an unknown flag or a bad value; nothing was done'],
  [3, 'configuration: the kubeconfig, its credentials or --manifests-dir cannot be used'],
  [4, 'cluster: the API server cannot be reached, did not answer in time, or refused the request'],
  [5, 'precondition: the cluster is not in a state the command may act on; nothing was changed'],
  [6, 'failed part-way, or the output could not be written; pivot and rollback resume when run again'],
];

/** An output stream that could not be written (a full disk, a closed pipe): the command's result is lost. */
export class OutputError extends SelfhostError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('failed', message, options);
  }
}
