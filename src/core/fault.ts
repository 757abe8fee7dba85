// The deterministic fault hook, for the fault-injection tests only: KUBECTL_SELFHOST_FAULT names one point of a
// run and how to end the process there, e.g.
//   handover/kube-apiserver/cp-1:after:kill     (SIGKILL right after that step is recorded as done)
//   daemonset/kube-scheduler:before:exit        (exit 86 before the step starts)
//   agent/remove/kube-scheduler.yaml/cp-1:after  (right after that node-agent operation; kill is the default)
//   handover/kube-apiserver/cp-1:before:stop     (SIGSTOP there: the test cuts the network, then sends SIGCONT)
//   lease/renew:before:stop                      (before a renewal of the run's Lease, every 10 s or before a write)
// A '*' in the point matches any run of characters. Unset, the hook does nothing.
export type FaultWhen = 'before' | 'after';
export type FaultHow = 'kill' | 'exit' | 'stop';
export type FaultHook = (point: string, when: FaultWhen) => void;

export interface FaultSpec {
  point: string;
  when: FaultWhen;
  how: FaultHow;
}

export const FAULT_ENV = 'KUBECTL_SELFHOST_FAULT';
export const FAULT_EXIT_CODE = 86;

/** Parses the variable; throws on a malformed one, so a typo never silently disables a test's fault. */
export function parseFault(value: string | undefined): FaultSpec | null {
  if (value === undefined || value === '') return null;
  const m = /^(.+?):(before|after)(?::(kill|exit|stop))?$/.exec(value);
  if (!m) throw new Error(`${FAULT_ENV}="${value}" is not <step id or agent point>:<before|after>[:kill|exit|stop]`);
  return { point: m[1]!, when: m[2] as FaultWhen, how: (m[3] ?? 'kill') as FaultHow };
}

export function matchesPoint(pattern: string, point: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(point);
}

/**
 * The hook for a spec; `end` does the ending (the real one kills or exits the process). It fires once: a point met
 * again (a Lease renewal every 10 s, a stop the test has already continued) passes.
 */
export function faultHook(spec: FaultSpec | null, end: (how: FaultHow, point: string) => void): FaultHook {
  if (!spec) return () => undefined;
  let fired = false;
  return (point, when) => {
    if (fired || when !== spec.when || !matchesPoint(spec.point, point)) return;
    fired = true;
    end(spec.how, `${point}:${when}`);
  };
}
