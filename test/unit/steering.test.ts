// Which apiserver hand-overs are steered (src/core/steering.ts): a table of node facts, builds and bind addresses.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { steeredCost, steeringFor } from '../../src/core/steering.ts';

const template = (...flags: string[]) => ({ spec: { containers: [{ name: 'kube-apiserver', command: ['kube-apiserver', '--secure-port=6443', ...flags] }] } });

describe('steeringFor', () => {
  const cases: Array<[string, { kernel?: string; arch?: string }, string[], ReturnType<typeof template>, string]> = [
    ['kernel 6.1, amd64, every address', { kernel: '6.1.0-18-amd64', arch: 'amd64' }, ['amd64', 'arm64'], template(), 'steer amd64 migrate'],
    ['--bind-address=0.0.0.0 is every address', { kernel: '6.1.0', arch: 'arm64' }, ['amd64', 'arm64'], template('--bind-address=0.0.0.0'), 'steer arm64 migrate'],
    ['exactly 5.14 has tcp_migrate_req', { kernel: '5.14.0-284.el9', arch: 'amd64' }, ['amd64'], template(), 'steer amd64 migrate'],
    ['5.13 steers without it', { kernel: '5.13.19', arch: 'amd64' }, ['amd64'], template(), 'steer amd64'],
    ['5.5 has no pidfd_getfd', { kernel: '5.5.0', arch: 'amd64' }, ['amd64'], template(), 'hash: kernel 5.5 lacks pidfd_getfd'],
    ['bound to one address', { kernel: '6.1.0', arch: 'amd64' }, ['amd64'], template('--bind-address=$(HOST_IP)'), 'hash: the apiserver listens on one address'],
    ['no helper for the architecture', { kernel: '6.1.0', arch: 's390x' }, ['amd64', 'arm64'], template(), 'hash: no node helper for s390x'],
    ['a build without a helper', { kernel: '6.1.0', arch: 'amd64' }, [], template(), 'hash: this kubectl-selfhost carries no node helper'],
  ];
  for (const [name, node, archs, t, want] of cases) {
    it(name, () => {
      const s = steeringFor(node, archs, t);
      const got = s.how === 'steer' ? `steer ${s.arch}${s.migrate ? ' migrate' : ''}` : `hash: ${s.why}`;
      assert.ok(got.startsWith(want), `${got} / ${want}`);
    });
  }

  it('to undo only (no template), how the apiserver listens does not matter', () => {
    assert.deepEqual(steeringFor({ kernel: '6.1.0', arch: 'amd64' }, ['amd64'], null), { how: 'steer', arch: 'amd64', migrate: true });
  });

  it('plan\'s cost names what is expected of each way', () => {
    assert.match(steeredCost({ how: 'steer', arch: 'amd64', migrate: true }), /^none expected/);
    assert.match(steeredCost({ how: 'steer', arch: 'amd64', migrate: false }), /may reset a few/);
    assert.match(steeredCost({ how: 'hash', why: 'x' }), /403\/500 .*not steered: x/);
  });
});
