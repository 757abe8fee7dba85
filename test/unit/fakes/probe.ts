// A fake of the ApiProbe port: /metrics' process_start_time_seconds as fresh connections to one node's address
// would see it, from the fake kubelet's processes: every apiserver process that listens on that node (static,
// DaemonSet pod, active checkpoint), in turn, as SO_REUSEPORT spreads new connections. Each probe is logged in
// the shared call log as `PROBE <node>`, so tests can order it against the writes.
import type { ApiProbe } from '../../../src/ports/kube.ts';
import type { FakeKubelet } from './kubelet.ts';

export function fakeProbe(kubelet: FakeKubelet, calls: string[]): ApiProbe {
  return {
    async startTimes(address, _port, samples) {
      const node = kubelet.nodes.find((n) => n.address === address)?.name;
      calls.push(`PROBE ${node ?? address}`);
      const times = kubelet.procs.filter((p) => p.node === node && p.apiserver && p.listening).map((p) => p.startedAt);
      return times.length === 0 ? [] : Array.from({ length: samples }, (_, i) => times[i % times.length]!);
    },
  };
}
