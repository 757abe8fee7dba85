// The API prober's worker thread (test/e2e/prober.ts startProber): probes until the parent says "stop", then
// sends its report back.
import { parentPort, workerData } from 'node:worker_threads';
import { probeInThisThread } from './prober.ts';

const { kubeconfig, label, ratePerSecond, maxMs } = workerData as { kubeconfig: string; label: string; ratePerSecond: number; maxMs: number };
const prober = probeInThisThread(kubeconfig, label, ratePerSecond, maxMs);
parentPort!.once('message', () => {
  void prober.stop().then((report) => parentPort!.postMessage(report));
});
