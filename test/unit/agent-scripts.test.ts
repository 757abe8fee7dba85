// The node agent's shell scripts, run with sh against a temporary directory standing in for the node's static pod
// directory (/m) and the tool's backup directory (/b).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AGENT_SCRIPTS } from '../../src/ports/agent.ts';

function node() {
  const root = mkdtempSync(join(tmpdir(), 'agent-'));
  mkdirSync(join(root, 'm'));
  mkdirSync(join(root, 'b'));
  const run = (op: keyof typeof AGENT_SCRIPTS, env: Record<string, string>) => {
    const script = AGENT_SCRIPTS[op].replace(/(?<=["\s]|^)\/([bm])\//g, `${root}/$1/`);
    return spawnSync('sh', ['-c', script], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env }, encoding: 'utf8' });
  };
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

  it('removes the backup directory only when no original is left in it', () => {
    const n = node();
    const dir = join(n.root, 'p', 'selfhost-backup');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'kube-scheduler.yaml'), 'last copy\n');
    writeFileSync(join(dir, 'kube-apiserver.checkpoint.yaml'), 'checkpoint\n');
    const script = (AGENT_SCRIPTS.removeBackups as string).replaceAll('/p/$F', `${n.root}/p/$F`);
    const run = () => spawnSync('sh', ['-c', script], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', F: 'selfhost-backup' }, encoding: 'utf8' });
    const refused = run();
    assert.equal(refused.status, 4);
    assert.match(refused.stderr, /kube-scheduler.yaml is still a backup/);
    assert.ok(existsSync(join(dir, 'kube-scheduler.yaml')));
    spawnSync('rm', [join(dir, 'kube-scheduler.yaml')]);
    assert.equal(run().status, 0);
    assert.equal(existsSync(dir), false);
  });
});
