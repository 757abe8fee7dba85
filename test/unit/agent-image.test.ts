// --agent-image: a reference the runtime takes as it is (tag or sha256 digest), or one clear line saying what is wrong.
// The cases are those of TestReferenceParse in github.com/distribution/reference, reference_test.go at commit
// 4894124079e525c3c3c5c8aacaa653b5499004e9 (the grammar containerd and the kubelet use), less the IPv6 hosts and
// the sha512 digest this check does not take.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkAgentImage, DEFAULT_AGENT_IMAGE, imageProblem } from '../../src/ports/agent-image.ts';

const F64 = 'f'.repeat(64);

describe('--agent-image', () => {
  it('takes every valid form: name, registry with port, tag, digest, tag and digest', () => {
    for (const ref of [
      DEFAULT_AGENT_IMAGE, 'test_com', 'test.com:tag', 'test.com:5000', 'test.com/repo:tag', 'test:5000/repo', 'test:5000/repo:tag',
      `test:5000/repo@sha256:${F64}`, `test:5000/repo:tag@sha256:${F64}`, 'lowercase:Uppercase', `${'a/'.repeat(127)}a:tag-puts-this-over-max`,
      'sub-dom1.foo.com/bar/baz/quux:some-long-tag', 'b.gcr.io/test.example.com/my-app:test.example.com', 'xn--n3h.com/myimage:xn--n3h.com',
      'foo_bar.com:8080', 'foo/foo_bar.com:8080', '192.168.1.1', '192.168.1.1:5000/repo:5050',
    ]) assert.equal(imageProblem(ref), null, ref);
  });

  it('refuses malformed references, saying what is wrong', () => {
    assert.equal(imageProblem(''), 'it is empty');
    assert.match(imageProblem(':justtag')!, /"" is not an image name/);
    assert.match(imageProblem(`@sha256:${F64}`)!, /"" is not an image name/);
    assert.match(imageProblem(`repo@sha256:${'f'.repeat(34)}`)!, /is not a digest: use sha256: and 64 lower-case hex digits/);
    assert.match(imageProblem(`validname@invaliddigest:${F64}`)!, /is not a digest/);
    assert.match(imageProblem(`busybox@sha256:${'F'.repeat(64)}`)!, /is not a digest/);
    assert.match(imageProblem('Uppercase:tag')!, /"Uppercase" is not an image name/);
    assert.match(imageProblem('test:5000/Uppercase/lowercase:tag')!, /is not an image name/);
    assert.match(imageProblem(`${'a/'.repeat(128)}a:tag`)!, /is not an image name/);
    assert.match(imageProblem('aa/asdf$$^/aa')!, /is not an image name/);
    assert.match(imageProblem('busybox:')!, /"" is not a tag/);
    assert.match(imageProblem('busybox:a b')!, /"a b" is not a tag/);
  });

  it('is used as given, and a bad one is one usage line', () => {
    const pinned = `docker.io/library/busybox@sha256:${F64}`;
    assert.equal(checkAgentImage(pinned), pinned);
    assert.throws(() => checkAgentImage('busybox@sha256:abc'), (e: Error & { kind?: string }) => e.kind === 'usage' && e.message === 'invalid --agent-image "busybox@sha256:abc": "sha256:abc" is not a digest: use sha256: and 64 lower-case hex digits (e.g. docker.io/library/busybox:1.35.0, or pinned: docker.io/library/busybox@sha256:<64 hex digits>)');
  });
});
