// Node-agent failures on the real bed (issue "fault injection on the real bed"): an --agent-image the node cannot
// pull (a registry on the node's own loopback, where nothing listens), a full disk under the backup directory (a
// 64 KiB tmpfs mounted there, filled), and Pod Security Admission "baseline" enforced on kube-system. Each fails
// before any destructive step with one clear line, leaves the static pod directory as kubeadm made it (files and
// 0600 modes) and nothing half-written, and pivot converges once the cause is gone. An agent pod deleted before it
// finished: timed by pausing the node's containerd (SIGSTOP, a process the bed started), so the pod waits to start
// while the test deletes it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { agentPods, BACKUPS, kubectl, MANIFESTS, selfhost, selfhostAsync, until } from '../helpers.ts';
import { assertConverged, healthyBed, leftovers, printTable, record } from './invariants.ts';
import { halfWritten } from './node.ts';

function staticDir(): Record<string, { text: string; mode: number }> {
  return Object.fromEntries(readdirSync(MANIFESTS).sort().map((f) => [f, { text: readFileSync(join(MANIFESTS, f), 'utf8'), mode: statSync(join(MANIFESTS, f)).mode & 0o777 }]));
}

const mounted = () => readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === BACKUPS);

async function fromStatic(): Promise<void> {
  const r = selfhost(['rollback', '--yes']);
  assert.equal(r.code, 0, r.out + r.err);
  await assertConverged('static', 'before the case');
}

interface Case { name: string; args: string[]; setUp(): void; tearDown(): void; line: RegExp }
const CASES: Case[] = [
  {
    name: 'an --agent-image the node cannot pull',
    args: ['--agent-image', '127.0.0.1:1/nothing/busybox:1'],
    setUp: () => undefined, tearDown: () => undefined,
    // After the wait it ended: "error: while waiting for node agent ... to finish on selfhost-cp: node ...".
    line: /^error: [^\n]*node selfhost-cp cannot pull the node agent image 127\.0\.0\.1:1\/nothing\/busybox:1 \((ErrImagePull|ImagePullBackOff)[^\n]*; nothing was changed on the node: pass --agent-image/,
  },
  {
    name: 'a full disk under the backup directory',
    args: [],
    setUp: () => {
      mkdirSync(BACKUPS, { recursive: true, mode: 0o700 });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'selfhost-fault-full', BACKUPS]);
      // Fill it: whatever the agent writes next finds no space.
      try { writeFileSync(join(BACKUPS, 'filler'), Buffer.alloc(1024 * 1024)); } catch { /* full, as wanted */ }
    },
    tearDown: () => { if (mounted()) execFileSync('umount', [BACKUPS]); },
    // After the step it ended: "error: [pivot/kube-scheduler] back up ...: node agent on ...".
    line: /^error: \[pivot\/kube-scheduler\] back up [^\n]*: node agent on selfhost-cp failed to backup \S+ \(exit 5\): cannot (back up \S+|write \S+) \(disk full\?\); nothing was changed/,
  },
  {
    name: 'Pod Security Admission "baseline" enforced on kube-system',
    args: [],
    setUp: () => void kubectl(['label', 'namespace', 'kube-system', 'pod-security.kubernetes.io/enforce=baseline', '--overwrite']),
    tearDown: () => void kubectl(['label', 'namespace', 'kube-system', 'pod-security.kubernetes.io/enforce-']),
    line: /^error: Pod Security Admission refuses the node agent pods in kube-system \(violates PodSecurity "baseline:latest"[^\n]*nothing was changed/,
  },
];

describe('node-agent failures, on the real kubeadm test bed', { concurrency: 1 }, () => {
  before(async () => {
    await healthyBed();
  });
  after(() => {
    for (const c of CASES) { try { c.tearDown(); } catch { /* not set up */ } }
    printTable('node-agent failures: results');
  });

  for (const c of CASES) {
    it(`${c.name}: one line before any destructive step, the static pods untouched; pivot converges once it is gone`, async () => {
      await fromStatic();
      const before = staticDir();
      let outcome = 'failed';
      try {
        c.setUp();
        const r = selfhost(['pivot', '--yes', '--timeout', '3m', ...c.args]);
        assert.ok(r.code > 1, `pivot fails (exit ${r.code}): ${r.out.slice(-1500)}${r.err}`);
        assert.equal(r.err.trim().split('\n').length, 1, `one line: ${r.err}`);
        assert.match(r.err, c.line);
        assert.deepEqual(staticDir(), before, 'the static pod directory as it was, files and modes');
        assert.deepEqual(halfWritten().filter((f) => !f.endsWith('/filler')), [], 'nothing half-written');
        c.tearDown();
        const again = selfhost(['pivot', '--yes']);
        assert.equal(again.code, 0, again.out + again.err);
        await assertConverged('self-hosted', 'after the cause is gone');
        outcome = `pivot exit ${r.code}: ${r.err.trim().slice(7, 90)}; pivot again converged`;
      } finally {
        try { c.tearDown(); } catch { /* done already */ }
        record({ fault: 'node agent', verb: 'pivot', point: c.name, outcome, apiGapS: null, listenerGapS: null, left: outcome === 'failed' ? '(not checked)' : leftovers() });
      }
    });
  }

  it('an agent pod deleted before it finished (the node\'s containerd paused meanwhile): one line, nothing changed; pivot converges', async () => {
    await fromStatic();
    const before = staticDir();
    // The bed's containerd (scripts/testbed/testbed.sh writes its pid): paused, the kubelet cannot start the pod.
    const containerd = Number(readFileSync('/run/selfhost-bed/containerd.pid', 'utf8').trim());
    let outcome = 'failed';
    const run = selfhostAsync(['pivot', '--yes', '--timeout', '3m']);
    try {
      process.kill(containerd, 'SIGSTOP');
      const pod = await until('the first node agent pod', 120_000, () => agentPods()[0] ?? null);
      kubectl(['-n', 'kube-system', 'delete', pod, '--grace-period=0', '--force', '--wait=false']);
      process.kill(containerd, 'SIGCONT');
      const r = await run;
      assert.ok(r.code > 1, `pivot fails (exit ${r.code}): ${r.out.slice(-1500)}${r.err}`);
      assert.equal(r.err.trim().split('\n').length, 1, `one line: ${r.err}`);
      assert.match(r.err, /node agent pod \S+ on selfhost-cp was deleted before it finished \(\w+ \S+\); run the command again/);
      assert.deepEqual(staticDir(), before, 'the static pod directory as it was, files and modes');
      assert.deepEqual(halfWritten(), [], 'nothing half-written');
      const again = selfhost(['pivot', '--yes']);
      assert.equal(again.code, 0, again.out + again.err);
      await assertConverged('self-hosted', 'after the deleted agent');
      outcome = `pivot exit ${r.code}: ${r.err.trim().slice(7, 120)}; pivot again converged`;
    } finally {
      try { process.kill(containerd, 'SIGCONT'); } catch { /* running */ }
      await run.catch(() => undefined);
      record({ fault: 'node agent', verb: 'pivot', point: 'an agent pod deleted before it finished', outcome, apiGapS: null, listenerGapS: null, left: outcome === 'failed' ? '(not checked)' : leftovers() });
    }
  });
});
