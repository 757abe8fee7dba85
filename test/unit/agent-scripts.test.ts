// The node agent's shell scripts, run with sh against a temporary directory standing in for the node's static pod
// directory (/m) and the tool's backup directory (/b).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AGENT_OPS, agentScript } from '../../src/ports/agent.ts';

function node() {
  const root = mkdtempSync(join(tmpdir(), 'agent-'));
  mkdirSync(join(root, 'm'));
  mkdirSync(join(root, 'b'));
  const run = (op: keyof typeof AGENT_OPS, env: Record<string, string>) =>
    spawnSync('sh', ['-c', agentScript(op)], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', M: join(root, 'm'), B: join(root, 'b'), ...env }, encoding: 'utf8' });
  return { root, run };
}

describe('node agent scripts', () => {
  it('backup marks the directory with the cluster and keeps the first copy', () => {
    const n = node();
    writeFileSync(join(n.root, 'm', 'kube-scheduler.yaml'), 'original\n');
    const r = n.run('backup', { F: 'kube-scheduler.yaml', OWNER: 'uid-1', ADOPT: '0' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'original\n');
    assert.equal(readFileSync(join(n.root, 'b', 'cluster-uid'), 'utf8').trim(), 'uid-1');
    writeFileSync(join(n.root, 'm', 'kube-scheduler.yaml'), 'changed\n');
    assert.equal(n.run('backup', { F: 'kube-scheduler.yaml', OWNER: 'uid-1', ADOPT: '0' }).stdout, 'original\n');
  });

  it('refuses a backup directory another cluster left behind (kubeadm reset), and one of unknown origin', () => {
    const n = node();
    writeFileSync(join(n.root, 'm', 'kube-scheduler.yaml'), 'new cluster\n');
    writeFileSync(join(n.root, 'b', 'cluster-uid'), 'old-uid\n');
    writeFileSync(join(n.root, 'b', 'kube-scheduler.yaml'), 'old cluster\n');
    const r = n.run('backup', { F: 'kube-scheduler.yaml', OWNER: 'new-uid', ADOPT: '0' });
    assert.equal(r.status, 5);
    assert.match(r.stderr, /belongs to another cluster \(kube-system uid old-uid, this one is new-uid\).*move it away/);
    assert.equal(readFileSync(join(n.root, 'b', 'kube-scheduler.yaml'), 'utf8'), 'old cluster\n', 'nothing changed');

    const u = node();
    writeFileSync(join(u.root, 'm', 'kube-scheduler.yaml'), 'x\n');
    writeFileSync(join(u.root, 'b', 'kube-apiserver.yaml'), 'unknown\n');
    assert.equal(u.run('backup', { F: 'kube-scheduler.yaml', OWNER: 'uid', ADOPT: '0' }).status, 5);
    assert.equal(u.run('backup', { F: 'kube-scheduler.yaml', OWNER: 'uid', ADOPT: '1' }).status, 0, 'the cluster holds copies for this node: adopted');
  });

  it('empties the backup directory only when no original is left in it', () => {
    const n = node();
    const dir = join(n.root, 'b');
    writeFileSync(join(dir, 'kube-scheduler.yaml'), 'last copy\n');
    writeFileSync(join(dir, 'kube-apiserver.checkpoint.yaml'), 'checkpoint\n');
    const refused = n.run('removeBackups', { F: 'selfhost-backup' });
    assert.equal(refused.status, 4);
    assert.match(refused.stderr, /kube-scheduler.yaml is still a backup/);
    assert.ok(existsSync(join(dir, 'kube-scheduler.yaml')));
    assert.equal(n.run('removeBackup', { F: 'kube-scheduler.yaml' }).status, 0);
    assert.equal(n.run('removeBackups', { F: 'selfhost-backup' }).status, 0);
    assert.deepEqual(readdirSync(dir), []);
  });
});
