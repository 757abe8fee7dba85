import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { faultHook, matchesPoint, parseFault } from '../../src/core/fault.ts';

describe('fault hook', () => {
  it('is inert unless set, and refuses a malformed value', () => {
    assert.equal(parseFault(undefined), null);
    assert.equal(parseFault(''), null);
    assert.throws(() => parseFault('handover/kube-apiserver/cp-1'), /is not <step id/);
    assert.throws(() => parseFault('x:during'), /is not/);
  });

  it('parses point, when and how (kill by default)', () => {
    assert.deepEqual(parseFault('handover/kube-apiserver/cp-1:after'), { point: 'handover/kube-apiserver/cp-1', when: 'after', how: 'kill' });
    assert.deepEqual(parseFault('agent/write/kube-scheduler.yaml/cp-1:after:exit'), { point: 'agent/write/kube-scheduler.yaml/cp-1', when: 'after', how: 'exit' });
    assert.deepEqual(parseFault('handover/kube-apiserver/cp-1:before:stop'), { point: 'handover/kube-apiserver/cp-1', when: 'before', how: 'stop' });
    assert.throws(() => parseFault('handover/kube-apiserver/cp-1:before:pause'), /is not/);
  });

  it('fires only at its point and moment; * matches any run of characters', () => {
    const ended: string[] = [];
    const hook = faultHook(parseFault('handover/*/cp-1:before:exit'), (how, p) => void ended.push(`${how} ${p}`));
    hook('handover/kube-scheduler/cp-1', 'after');
    hook('handover/kube-scheduler/cp-2', 'before');
    hook('handover/kube-scheduler/cp-1', 'before');
    assert.deepEqual(ended, ['exit handover/kube-scheduler/cp-1:before']);
    assert.equal(matchesPoint('a.b', 'axb'), false, 'only * is special');
  });

  it('fires once: a stop the test has continued does not stop the run again at the same point (a Lease renewal)', () => {
    const ended: string[] = [];
    const hook = faultHook(parseFault('lease/renew:before:stop'), (how, p) => void ended.push(`${how} ${p}`));
    hook('lease/renew', 'before');
    hook('lease/renew', 'before');
    assert.deepEqual(ended, ['stop lease/renew:before']);
  });
});

describe('the fault hook in a real process', () => {
  const port = new URL('../../src/ports/fault.ts', import.meta.url).href;
  const child = (how: string) => spawn(process.execPath, ['--input-type=module', '-e', `
    const { processFaultHook } = await import(${JSON.stringify(port)});
    const hook = processFaultHook({ KUBECTL_SELFHOST_FAULT: 'handover/x/cp-1:before:${how}' });
    hook('handover/x/cp-1', 'after');
    hook('handover/x/cp-1', 'before');
    process.stdout.write('went on');
  `], { stdio: ['ignore', 'pipe', 'pipe'] });
  const ended = (c: ReturnType<typeof spawn>) => new Promise<{ code: number | null; signal: string | null; out: string }>((resolve) => {
    let out = '';
    c.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    c.on('close', (code, signal) => resolve({ code, signal, out }));
  });

  it('kill ends the process with SIGKILL at its point, exit with code 86', async () => {
    assert.deepEqual(await ended(child('kill')), { code: null, signal: 'SIGKILL', out: '' });
    assert.deepEqual(await ended(child('exit')), { code: 86, signal: null, out: '' });
  });

  it('stop stops the process at its point; after SIGCONT the run goes on', async () => {
    const c = child('stop');
    const result = ended(c);
    const state = () => readFileSync(`/proc/${c.pid}/stat`, 'utf8').split(') ')[1]![0];
    for (let i = 0; i < 200 && state() !== 'T'; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(state(), 'T', 'stopped at the point');
    c.kill('SIGCONT');
    assert.deepEqual(await result, { code: 0, signal: null, out: 'went on' });
  });
});
