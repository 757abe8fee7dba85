// Races (issue "fault injection on the real bed"): two runs started within 100 ms (pivot+pivot, pivot+rollback),
// the same from two Unix users on one host (the other user's process cannot be signalled: EPERM, so it counts as
// alive), and one run left waiting at its confirmation prompt while another completes. Exactly one writes; the
// other exits > 1 before any write, naming the holder (or, for the one that waited at its prompt, what changed).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, collect, KUBECONFIG, selfhost, selfhostAsync, until } from '../helpers.ts';
import { assertConverged, healthyBed, leftovers, printTable, record, type Mode } from './invariants.ts';
import { type Run } from './node.ts';

const OTHER_USER = 'selfhost-op2';
const STEP_LINE = /\(\d+\/\d+\)/;
const HOLDER = /another run holds Lease kube-system\/kubectl-selfhost \(holder \S+@\S+\/\d+/;

/** A second Unix user with its own copy of the admin kubeconfig (0600, its own). */
function otherUser(): { kubeconfig: string } {
  try {
    execFileSync('id', [OTHER_USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', OTHER_USER]);
  }
  const dir = mkdtempSync(join(tmpdir(), 'selfhost-op2-'));
  const kubeconfig = join(dir, 'kubeconfig');
  copyFileSync(KUBECONFIG, kubeconfig);
  const uid = Number(execFileSync('id', ['-u', OTHER_USER], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', OTHER_USER], { encoding: 'utf8' }));
  chownSync(dir, uid, gid);
  chownSync(kubeconfig, uid, gid);
  chmodSync(kubeconfig, 0o600);
  return { kubeconfig };
}

function asOtherUser(args: string[], kubeconfig: string): Promise<Run> {
  return collect(spawn('runuser', ['-u', OTHER_USER, '--', 'env', `KUBECONFIG=${kubeconfig}`, 'NO_COLOR=1', `HOME=${tmpdir()}`, BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }), 900_000);
}

/** One wrote and finished, the other wrote nothing and exited > 1 naming why; the winner's mode is reached. */
async function exactlyOneWrote(name: string, a: Run, b: Run, why: RegExp, winnerMode: (w: 0 | 1) => Mode): Promise<void> {
  const w = a.code === 0 ? 0 : 1;
  const [winner, loser] = w === 0 ? [a, b] : [b, a];
  let outcome = 'failed';
  try {
    assert.equal(winner.code, 0, `one run finishes: ${winner.out.slice(-2000)}${winner.err}`);
    assert.ok(loser.code > 1, `the other exits > 1 (got ${loser.code}): ${loser.out.slice(-1500)}${loser.err}`);
    assert.match(loser.err, why);
    assert.doesNotMatch(loser.out, STEP_LINE, 'the other run started no step');
    await assertConverged(winnerMode(w), `after ${name}`);
    // The line that says why (a run at its prompt has one terminal for both streams: its context line comes first).
    const said = loser.err.split('\n').find((l) => why.test(l)) ?? loser.err.trim().split('\n')[0]!;
    outcome = `run ${w === 0 ? 'A' : 'B'} wrote; the other exited ${loser.code}: ${said.trim().slice(0, 160)}`;
  } finally {
    record({ fault: 'race', verb: name, point: 'start', outcome, apiGapS: null, listenerGapS: null, left: outcome === 'failed' ? '(not checked)' : leftovers() });
  }
}

async function fromStatic(): Promise<void> {
  const r = selfhost(['rollback', '--yes']);
  assert.equal(r.code, 0, r.out + r.err);
  await assertConverged('static', 'before the race');
}

describe('races, on the real kubeadm test bed', { concurrency: 1 }, () => {
  before(async () => {
    await healthyBed();
  });
  after(() => {
    printTable('races: results');
    selfhost(['rollback', '--yes']);
  });

  it('pivot and rollback started within 100 ms, each with work to do: exactly one writes', async () => {
    await fromStatic();
    // The scheduler self-hosted first, so that pivot (the other two) and rollback (the scheduler) both have work.
    const p = selfhost(['pivot', '--yes', '--components', 'kube-scheduler']);
    assert.equal(p.code, 0, p.out + p.err);
    const pa = selfhostAsync(['pivot', '--yes']);
    await new Promise((r) => setTimeout(r, 50));
    const pb = selfhostAsync(['rollback', '--yes']);
    const [a, b] = await Promise.all([pa, pb]);
    await exactlyOneWrote('pivot + rollback', a, b, HOLDER, (w) => (w === 0 ? 'self-hosted' : 'static'));
  });

  it('two pivots from two Unix users within 100 ms: exactly one writes; the other user\'s run counts as alive', async () => {
    await fromStatic();
    const { kubeconfig } = otherUser();
    const pa = selfhostAsync(['pivot', '--yes']);
    await new Promise((r) => setTimeout(r, 50));
    const pb = asOtherUser(['pivot', '--yes'], kubeconfig);
    const [a, b] = await Promise.all([pa, pb]);
    await exactlyOneWrote('pivot (root) + pivot (selfhost-op2)', a, b, HOLDER, () => 'self-hosted');
  });

  it('a run waiting at its confirmation prompt while another completes: answered yes, it writes nothing and says what changed', async () => {
    await fromStatic();
    // A terminal for the first run (script(1) gives it a pty), so that it asks.
    const child = spawn('script', ['-qfec', `${BIN} pivot`, '/dev/null'], { env: { ...process.env, KUBECONFIG, NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    const exit = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    await until('the first run to ask for confirmation', 300_000, () => /Pivot .* in \d+ steps\?/.test(out));
    const second = selfhost(['pivot', '--yes']);
    child.stdin!.write('y\n');
    const code = await exit;
    const first: Run = { code, out, err: out, ms: 0 };
    await exactlyOneWrote('pivot at its prompt + pivot --yes', second, first, /the cluster changed after the plan was confirmed \([^)]*\); nothing was written/, () => 'self-hosted');
  });
});

