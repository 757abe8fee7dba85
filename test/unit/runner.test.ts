import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProgressEvent } from '../../src/core/events.ts';
import { newJournal, parseJournal, type Journal } from '../../src/core/journal.ts';
import { runSteps, type Step } from '../../src/core/runner.ts';
import { journalFor } from '../../src/pivot/operation.ts';

const now = () => new Date('2026-01-02T03:04:05Z');

function harness() {
  const saved: Journal[] = [];
  const events: ProgressEvent[] = [];
  const ran: string[] = [];
  const step = (id: string, fail = false): Step<object> => ({ id, tag: `[t/${id}]`, description: `do ${id}`, writes: 'node', run: async () => { ran.push(id); if (fail) throw new Error('boom'); } });
  return { saved, events, ran, step, r: { emit: (e: ProgressEvent) => events.push(e), journal: { save: async (j: Journal) => void saved.push(structuredClone(j)) }, now } };
}

describe('runSteps', () => {
  it('runs steps in order and records each in the journal before the next', async () => {
    const h = harness();
    const j = await runSteps([h.step('a'), h.step('b')], {}, h.r, newJournal('pivot', 'r1', [], now()));
    assert.deepEqual(h.ran, ['a', 'b']);
    assert.deepEqual(h.saved.map((s) => [s.done, s.state]), [[['a'], 'in-progress'], [['a', 'b'], 'in-progress'], [['a', 'b'], 'completed']]);
    assert.equal(j.state, 'completed');
  });

  it('skips what the journal records as done (resume)', async () => {
    const h = harness();
    const journal = { ...newJournal('pivot', 'r1', [], now()), done: ['a'] };
    await runSteps([h.step('a'), h.step('b')], {}, h.r, journal);
    assert.deepEqual(h.ran, ['b']);
  });

  it('re-runs a step that re-checks its desired state even when recorded as done', async () => {
    const h = harness();
    const journal = { ...newJournal('pivot', 'r1', [], now()), done: ['a', 'b'] };
    await runSteps([h.step('a'), { ...h.step('b'), alwaysRun: true }], {}, h.r, journal);
    assert.deepEqual(h.ran, ['b']);
  });

  it('on failure records the failed state with the step name and stops', async () => {
    const h = harness();
    await assert.rejects(runSteps([h.step('a'), h.step('b', true), h.step('c')], {}, h.r, newJournal('pivot', 'r1', [], now())), /\[t\/b\] do b: boom/);
    assert.deepEqual(h.ran, ['a', 'b']);
    const last = h.saved.at(-1)!;
    assert.equal(last.state, 'failed');
    assert.deepEqual(last.done, ['a']);
    assert.match(last.lastError!, /boom/);
    assert.ok(h.events.some((e) => e.type === 'step-failed'));
  });
});

describe('runSteps owns dry run, resume checks, the fault hook and the Lease guard', () => {
  const kinds = (h: ReturnType<typeof harness>) => [h.step('n'), { ...h.step('a'), writes: 'api' as const }, { ...h.step('r'), writes: 'none' as const }];

  it('--dry-run=client runs no step that writes and saves no journal', async () => {
    const h = harness();
    await runSteps(kinds(h), {}, { ...h.r, dryRun: 'client' }, newJournal('pivot', 'r1', [], now()));
    assert.deepEqual(h.ran, ['r']);
    assert.equal(h.saved.length, 0);
  });

  it('--dry-run=server runs the API writers only and saves no journal', async () => {
    const h = harness();
    await runSteps(kinds(h), {}, { ...h.r, dryRun: 'server' }, newJournal('pivot', 'r1', [], now()));
    assert.deepEqual(h.ran, ['a', 'r']);
    assert.equal(h.saved.length, 0);
  });

  it('--dry-run=server runs a step\'s serverDryRun in place of its run; other modes never do', async () => {
    const h = harness();
    const step = { ...h.step('a'), writes: 'api' as const, serverDryRun: async () => { h.ran.push('a (server dry run)'); } };
    await runSteps([step], {}, { ...h.r, dryRun: 'server' }, newJournal('pivot', 'r1', [], now()));
    await runSteps([step], {}, h.r, newJournal('pivot', 'r2', [], now()));
    await runSteps([step], {}, { ...h.r, dryRun: 'client' }, newJournal('pivot', 'r3', [], now()));
    assert.deepEqual(h.ran, ['a (server dry run)', 'a']);
  });

  it('a recorded step runs again when its outcome no longer holds, and is skipped when it does', async () => {
    const h = harness();
    const journal = { ...newJournal('pivot', 'r1', [], now()), done: ['a', 'b'] };
    await runSteps([{ ...h.step('a'), verify: async () => true }, { ...h.step('b'), verify: async () => false }], {}, h.r, journal);
    assert.deepEqual(h.ran, ['b']);
    assert.ok(h.events.some((e) => e.type === 'info' && /no longer holds/.test(e.message)));
  });

  it('fires the fault hook before and after each step, after the journal records it', async () => {
    const h = harness();
    const points: string[] = [];
    await runSteps([h.step('a'), h.step('b')], {}, { ...h.r, fault: (p, w) => void points.push(`${p}:${w}:${h.saved.length}`) }, newJournal('pivot', 'r1', [], now()));
    assert.deepEqual(points, ['a:before:0', 'a:after:1', 'b:before:1', 'b:after:2']);
  });

  it('starts no step that writes once the guard refuses (Lease lost), and records the failure', async () => {
    const h = harness();
    let held = true;
    const steps = [{ ...h.step('a'), run: async () => { h.ran.push('a'); held = false; } }, h.step('b')];
    await assert.rejects(runSteps(steps, {}, { ...h.r, guard: async () => { if (!held) throw new Error('lease lost'); } }, newJournal('pivot', 'r1', [], now())), /lease lost/);
    assert.deepEqual(h.ran, ['a']);
  });
});

describe('journal', () => {
  it('resumes an unfinished run of the same operation and starts anew otherwise', () => {
    const failed = { ...newJournal('pivot', 'old', ['kube-scheduler'], now()), state: 'failed' as const, done: ['x'] };
    assert.deepEqual(journalFor(failed, 'pivot', ['kube-apiserver'], now()).journal.done, ['x']);
    assert.equal(journalFor(failed, 'pivot', [], now()).resumed, true);
    assert.equal(journalFor(failed, 'rollback', [], now()).resumed, false);
    assert.equal(journalFor({ ...failed, state: 'completed' }, 'pivot', [], now()).resumed, false);
    assert.equal(journalFor(null, 'pivot', [], now()).journal.done.length, 0);
  });

  it('round-trips through JSON and refuses a foreign document', () => {
    const j = newJournal('rollback', 'r', ['kube-apiserver'], now());
    assert.deepEqual(parseJournal(JSON.stringify(j)), j);
    assert.throws(() => parseJournal('{"kind":"Something"}'), /unrecognised journal/);
  });
});
