import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { processName, sharingMethod } from '../../src/core/port-sharing.ts';

describe('how a node gets port sharing before the hand-over', () => {
  const both = ['amd64', 'arm64'];
  it('is in place where the kernel has pidfd_getfd and the build has a helper for the node', () => {
    for (const [kernel, arch] of [['5.6.0', 'amd64'], ['6.1.0-18-amd64', 'amd64'], ['6.18.44-fc-v1272', 'arm64'], ['5.15.0-1057-aws', 'amd64']] as const) {
      assert.deepEqual(sharingMethod({ kernel, arch }, both), { how: 'in-place', arch }, kernel);
    }
  });
  it('is the restart, saying why, everywhere else', () => {
    for (const [facts, archs, why] of [
      [{ kernel: '5.5.19', arch: 'amd64' }, both, /kernel 5\.5 lacks pidfd_getfd \(Linux 5\.6\)/],
      [{ kernel: '4.19.0-26-amd64', arch: 'amd64' }, both, /kernel 4\.19 lacks/],
      [{ kernel: '6.1.0', arch: 's390x' }, both, /no node helper for s390x \(amd64, arm64 only\)/],
      [{ kernel: '6.1.0' }, both, /architecture is unknown/],
      [{ kernel: '6.1.0' }, [], /architecture is unknown/],
      [{ arch: 'amd64' }, both, /kernel version is unknown/],
      [{ kernel: 'weird', arch: 'amd64' }, both, /kernel version is unknown \("weird"\)/],
      [{ kernel: '6.1.0', arch: 'amd64' }, [], /carries no node helper/],
    ] as const) {
      const m = sharingMethod(facts, archs);
      assert.equal(m.how, 'restart', JSON.stringify(facts));
      assert.match((m as { why: string }).why, why);
    }
  });
  it('names the process as /proc/PID/comm does', () => {
    assert.equal(processName('kube-controller-manager'), 'kube-controller');
    assert.equal(processName('kube-apiserver'), 'kube-apiserver');
  });
});
