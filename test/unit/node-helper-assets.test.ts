// Which node helpers a build carries (src/ports/node-helper.ts): a binary counts only with its checksum.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeHelperFrom } from '../../src/ports/node-helper.ts';

const sum = (c: string) => c.repeat(64);
const files = (entries: Record<string, string>) => (name: string) => (name in entries ? Buffer.from(entries[name]!) : null);

describe('the node helper a build carries', () => {
  it('offers each architecture whose binary and checksum are both there', () => {
    const h = nodeHelperFrom(files({
      'node-helper-linux-amd64.gz': 'A', 'node-helper-linux-arm64.gz': 'B',
      'node-helper-SHA256SUMS': `${sum('a')}  node-helper-linux-amd64\n${sum('b')}  node-helper-linux-arm64\n`,
    }));
    assert.deepEqual(h.archs, ['amd64', 'arm64']);
    assert.deepEqual({ gz: h.binary('arm64').gz.toString(), sha256: h.binary('arm64').sha256 }, { gz: 'B', sha256: sum('b') });
  });

  it('leaves out a binary without a well-formed checksum, and a checksum without its binary', () => {
    const h = nodeHelperFrom(files({
      'node-helper-linux-amd64.gz': 'A',
      'node-helper-SHA256SUMS': `${sum('a').slice(1)}  node-helper-linux-amd64\n${sum('b')}  node-helper-linux-arm64\n`,
    }));
    assert.deepEqual(h.archs, []);
    assert.throws(() => h.binary('amd64'), /no node helper for amd64 in this build/);
  });

  it('is empty in a build with no helper at all', () => {
    assert.deepEqual(nodeHelperFrom(() => null).archs, []);
  });
});
