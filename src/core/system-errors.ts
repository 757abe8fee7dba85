// Node's system errors (ENOENT, ELOOP, ECONNREFUSED...) said in words, so that no raw "ELOOP: too many symbolic
// links encountered, open '...'" reaches a user. The code stays at the end, in brackets, for searching.

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ELOOP: 'a symbolic link loop (a link that leads back to itself)',
  EISDIR: 'it is a directory, not a file',
  ENOTDIR: 'a part of the path is not a directory',
  ENAMETOOLONG: 'the path is too long',
  EMFILE: 'too many open files',
  ENOSPC: 'no space left on the device',
  EROFS: 'a read-only file system',
  EIO: 'an input/output error',
  EPIPE: 'the reading end was closed',
  EBADF: 'the stream is closed',
  ECONNREFUSED: 'connection refused: nothing listens at that address',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name cannot be resolved now (DNS does not answer)',
  EHOSTUNREACH: 'no route to the host',
  ENETUNREACH: 'the network is unreachable',
  ECONNRESET: 'the connection was reset',
  ETIMEDOUT: 'no answer in time',
};

interface SystemError {
  code: string;
  syscall?: string;
  path?: string;
  message: string;
}

/** An error from the operating system (it has an E... code), as Node's fs, net and stream modules throw them. */
export function isSystemError(err: unknown): err is SystemError {
  const e = err as Partial<SystemError> | null;
  return typeof e === 'object' && e !== null && typeof e.code === 'string' && /^E[A-Z0-9_]+$/.test(e.code) && typeof e.message === 'string';
}

/** "permission denied (EACCES)"; an error without a known code keeps the first line of its message. */
export function describeSystemError(err: unknown): string {
  if (isSystemError(err)) {
    const reason = REASONS[err.code];
    if (reason) return `${reason} (${err.code})`;
    return `${err.message.split('\n')[0]!.replace(/^E[A-Z0-9_]+: /, '').replace(/, \w+ '.*'$/, '')} (${err.code})`;
  }
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

/** One line for a system error that reached the top unexplained: what could not be done to which path, and why. */
export function systemErrorLine(err: SystemError): string {
  const what = { open: 'open', read: 'read', stat: 'read', lstat: 'read', scandir: 'list', readlink: 'read', write: 'write', mkdir: 'create', connect: 'connect to' }[err.syscall ?? ''] ?? 'use';
  return `cannot ${what} ${err.path ?? 'a file'}: ${describeSystemError(err)}; check the path and its permissions`;
}
