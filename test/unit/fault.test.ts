import assert from 'node:assert/strict';
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
});
