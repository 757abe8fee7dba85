// The fault hook's real end (tests only, src/core/fault.ts): SIGKILL the process, exit at once, or stop it (SIGSTOP:
// the run goes on where it stopped when the test sends SIGCONT) at the point KUBECTL_SELFHOST_FAULT names. Inert
// unless the variable is set.
import { FAULT_ENV, FAULT_EXIT_CODE, faultHook, parseFault, type FaultHook } from '../core/fault.ts';
import { UsageError } from '../core/errors.ts';

export function processFaultHook(env: NodeJS.ProcessEnv): FaultHook {
  let spec;
  try {
    spec = parseFault(env[FAULT_ENV]);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return faultHook(spec, (how, point) => {
    process.stderr.write(`fault: ${how} at ${point} (${FAULT_ENV})\n`);
    if (how === 'stop') return void process.kill(process.pid, 'SIGSTOP');
    if (how === 'kill') process.kill(process.pid, 'SIGKILL');
    process.exit(FAULT_EXIT_CODE);
  });
}
