import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { failureKind, formatKinds } from '../../test/e2e/failure-kind.ts';

describe('a failed probe request by kind', () => {
  it('names what Node and Go say for the same failures alike', () => {
    for (const [why, kind] of [
      ['HTTP 403', '403'], ['HTTP 500', '500'],
      ['connect ECONNREFUSED 10.213.0.2:6443', 'refused'], ['dial tcp 10.96.0.1:443: connect: connection refused', 'refused'],
      ['socket hang up', 'reset'], ['read: connection reset by peer', 'reset'], ['Get "https://x/readyz": EOF', 'reset'],
      // Node's words when the load balancer closes a new connection before TLS (its backend died): seen on the HA bed.
      ['Client network socket disconnected before secure TLS connection was established', 'reset'],
      ['dial tcp 10.96.0.1:443: connect: network is unreachable', 'unreachable'], ['connect EHOSTUNREACH 10.213.0.2:6443', 'unreachable'],
      ['timeout after 2s', 'timeout'], ['context deadline exceeded (Client.Timeout exceeded while awaiting headers)', 'timeout'],
      ['dial tcp: lookup kubernetes.default.svc: no such host', 'dns'], ['getaddrinfo ENOTFOUND x', 'dns'],
      ['certificate has expired', 'other'],
    ] as const) assert.equal(failureKind(why), kind, why);
  });
  it('lists the kinds most first', () => {
    assert.equal(formatKinds({ refused: 3, 403: 20, 500: 3 }), '403×20, 500×3, refused×3');
  });
});
