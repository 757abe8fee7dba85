// The operator cut off from the API (issue "fault injection on the real bed"): a pivot is stopped at a chosen point
// by the fault hook (`:stop`), every packet through the host end of the bed's veth is dropped, the run goes on into
// the partition, and a second operator, inside the node's network namespace (another machine to the Lease), is
// started while the first is cut off:
//  - 60 s: the first run's Lease is still alive when the second starts: the second refuses, exit > 1, naming the
//    holder; once the partition heals the first renews its Lease and finishes (or, when a request it sent into the
//    partition timed out, stops with one line, and pivot again finishes);
//  - 180 s: the Lease has expired when the second starts: the second takes it and finishes the pivot; once the
//    partition heals the first starts no step, exits > 1 saying its Lease is gone, and the control plane stays as
//    the second left it.
// Points: during an agent wait (the scheduler's backup), at the apiserver hand-over, and at a journal save (after
// the last node operation of the scheduler's hand-over). Lease renewals fail throughout each partition.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { BED_DISCARDED_NEXT, BIN, Fatal, KUBECONFIG, selfhost, until } from '../helpers.ts';
import { assertConverged, assertOriginalsKept, healthyBed, leftovers, printTable, readOriginals, record, worstListenerGap } from './invariants.ts';
import { fromNode, NODE, partitionOff, partitionOn, processState, startListenerSampler } from './node.ts';

const FAULT = 'KUBECTL_SELFHOST_FAULT';
const STEP_LINE = /\(\d+\/\d+\)/;

interface Point { name: string; stopAt: string; partitionAfterMs: number }
const POINTS: Point[] = [
  { name: 'an agent wait (scheduler backup)', stopAt: `backup/kube-scheduler/${NODE}:before`, partitionAfterMs: 1500 },
  { name: 'the apiserver hand-over', stopAt: `handover/kube-apiserver/${NODE}:before`, partitionAfterMs: 0 },
  { name: 'a journal save (scheduler hand-over done on the node)', stopAt: `agent/remove/kube-scheduler.yaml/${NODE}:after`, partitionAfterMs: 0 },
  // The first renewal of the run's Lease, 10 s after it was taken (mid-pivot): the renewal itself meets the cut.
  { name: 'a Lease renewal', stopAt: 'lease/renew:before', partitionAfterMs: 0 },
];

/** A background pivot with timestamped output, stopped by the fault hook at `stopAt`. */
function stoppedPivot(stopAt: string) {
  const child = spawn(BIN, ['pivot', '--yes', '--timeout', '10m'], { env: { ...process.env, KUBECONFIG, NO_COLOR: '1', [FAULT]: `${stopAt}:stop` }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<{ at: number; line: string }> = [];
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { for (const line of d.toString().split('\n').filter(Boolean)) lines.push({ at: Date.now(), line }); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  let endedAt = Infinity;
  const exit = new Promise<number>((resolve) => child.on('close', (code) => { endedAt = Date.now(); resolve(code ?? -1); }));
  const state = () => processState(child.pid);
  // The fault hook's own line ("fault: stop at ...") is the test's, not the run's answer.
  const own = () => err.split('\n').filter((l) => l !== '' && !l.startsWith('fault: ')).join('\n');
  return { child, lines, err: own, exit, state, endedAt: () => endedAt };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the operator partitioned from the API, on the real kubeadm test bed', { concurrency: 1 }, () => {
  before(async () => {
    partitionOff();
    await healthyBed();
  });
  after(() => {
    partitionOff();
    printTable('partition: results');
    if (!BED_DISCARDED_NEXT) selfhost(['rollback', '--yes']);
  });

  for (const seconds of [60, 180]) {
    for (const p of POINTS) {
      it(`${seconds}s partition at ${p.name}, a second operator started during it`, async () => {
        partitionOff();
        const r0 = selfhost(['rollback', '--yes']);
        assert.equal(r0.code, 0, r0.out + r0.err);
        await assertConverged('static', 'before the case');
        const originals = readOriginals();
        const sampler = startListenerSampler();
        const first = stoppedPivot(p.stopAt);
        let outcome = 'failed';
        let healedAt = 0;
        try {
          await until(`the first run to stop at ${p.stopAt}`, 900_000, () => {
            if (first.state() === 'gone') throw new Fatal(`the first run ended before ${p.stopAt}: ${first.err()}`);
            return first.state() === 'T';
          });
          if (p.partitionAfterMs === 0) partitionOn();
          first.child.kill('SIGCONT');
          if (p.partitionAfterMs > 0) {
            await sleep(p.partitionAfterMs);
            partitionOn();
          }
          const cutAt = Date.now();
          // The second operator: while the first's Lease is alive (60 s), or once it has expired (180 s).
          await sleep(seconds === 60 ? 10_000 : 75_000);
          const second = await fromNode(['pivot', '--yes', '--timeout', '10m']);
          if (seconds === 60) {
            assert.ok(second.code > 1, `the second run refuses while the first can still write (exit ${second.code}): ${second.out.slice(-1500)}${second.err}`);
            assert.match(second.err, /another run holds Lease kube-system\/kubectl-selfhost \(holder \S+@\S+\/\d+/);
            assert.doesNotMatch(second.out, STEP_LINE, 'the second run started no step');
          } else {
            assert.equal(second.code, 0, `the second run takes the expired Lease and finishes: ${second.out.slice(-2000)}${second.err}`);
          }
          await sleep(Math.max(0, cutAt + seconds * 1000 - Date.now()));
          partitionOff();
          healedAt = Date.now();
          const code = await first.exit;
          if (seconds === 60) {
            // Its Lease was never taken: it renews it and goes on, or, when a request of the step under way timed
            // out in the partition, stops with one line; then the same verb finishes.
            if (code !== 0) {
              assert.ok(code > 1 && first.err().split('\n').length === 1, `the first run stops with one line (exit ${code}): ${first.err()}`);
              const again = selfhost(['pivot', '--yes']);
              assert.equal(again.code, 0, again.out + again.err);
            }
          } else {
            assert.ok(code > 1, `the first run stops (exit ${code}): ${first.err()}`);
            assert.equal(first.err().split('\n').length, 1, `one line: ${first.err()}`);
            // Either a request it sent into the partition timed out and it ended there, or it lived to see the
            // partition heal and then found its Lease gone: in both cases it starts nothing after the heal.
            if (first.endedAt() >= healedAt) assert.match(first.err(), /Lease kube-system\/kubectl-selfhost was (taken|deleted)|could not renew Lease/, first.err());
            const late = first.lines.filter((l) => l.at >= healedAt && STEP_LINE.test(l.line));
            assert.deepEqual(late.map((l) => l.line), [], 'the first run starts no step once its Lease may have passed on');
          }
          assertOriginalsKept(originals, 'after both runs');
          await assertConverged('self-hosted', 'after both runs');
          const firstEnd = first.endedAt() < healedAt ? 'ended in the partition' : 'stopped after the heal';
          outcome = seconds === 60 ? `second refused; first ${code === 0 ? 'finished' : `${firstEnd} (exit ${code}), pivot again finished`}` : `second finished; first ${firstEnd} (exit ${code}), no step after the heal`;
        } catch (err) {
          // Said in the row at once, not only in the reporter's summary at the end of the file.
          outcome = `failed: ${String((err as Error).message).split('\n')[0]!.slice(0, 300)}`;
          throw err;
        } finally {
          partitionOff();
          if (first.state() === 'T') first.child.kill('SIGCONT');
          if (first.state() !== 'gone') first.child.kill('SIGKILL');
          const gaps = await sampler.stop();
          record({ fault: `partition ${seconds}s`, verb: 'pivot', point: p.stopAt, outcome, apiGapS: null, listenerGapS: worstListenerGap(gaps), left: outcome.startsWith('failed') ? '(not checked)' : leftovers() });
        }
      });
    }
  }
});
