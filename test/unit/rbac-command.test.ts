// `kubectl selfhost rbac`: the roles this tool needs, printed for kubectl apply -f -, with bindings on request.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { run } from '../../src/cli.ts';
import { bufferIo } from './helpers.ts';

describe('kubectl selfhost rbac', () => {
  async function cli(args: string[]) {
    const io = bufferIo();
    const code = await run(args, io);
    return { code, out: io.stdout(), err: io.stderr() };
  }

  it('prints the roles, and bindings for each --bind-user and --bind-group', async () => {
    const plain = await cli(['rbac']);
    assert.equal(plain.code, 0, plain.err);
    assert.doesNotMatch(plain.out, /kind: (Cluster)?RoleBinding/);
    const bound = await cli(['rbac', '--bind-user', 'alice@example.com', '--bind-user', 'Bob Smith', '--bind-group', 'ops']);
    assert.equal(bound.code, 0, bound.err);
    assert.deepEqual([...bound.out.matchAll(/^kind: (\w+)\n.*\n  name: (.+)/gm)].map((m) => `${m[1]} ${m[2]}`), [
      'ClusterRole kubectl-selfhost', 'Role kubectl-selfhost',
      'ClusterRoleBinding kubectl-selfhost:user:alice@example.com', 'RoleBinding kubectl-selfhost:user:alice@example.com',
      'ClusterRoleBinding kubectl-selfhost:user:Bob Smith', 'RoleBinding kubectl-selfhost:user:Bob Smith',
      'ClusterRoleBinding kubectl-selfhost:group:ops', 'RoleBinding kubectl-selfhost:group:ops',
    ]);
  });

  it('--read-only and --nodes narrow the roles', async () => {
    const r = await cli(['rbac', '--read-only', '--nodes', 'cp-1,cp-2']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /name: kubectl-selfhost-read-only/);
    assert.doesNotMatch(r.out.replace(/- selfsubjectaccessreviews\n\s+verbs:\n\s+- create\n/, ''), /- create|- delete|- update/, 'no write but the access review');
    assert.match(r.out, /resourceNames:\n\s+- kubectl-selfhost-journal\n\s+- kubectl-selfhost-checkpoints\n\s+- kubectl-selfhost-backup-cp-1\n\s+- kubectl-selfhost-backup-cp-2\n/);
  });

  it('refuses bad names in one line, printing nothing else', async () => {
    for (const [args, message] of [
      [['rbac', '--bind-user', 'a/b'], /^error: invalid --bind-user "a\/b": give the user name as the API server knows it/],
      [['rbac', '--bind-group', 'a%b'], /^error: invalid --bind-group "a%b"/],
      [['rbac', '--bind-group', ' '], /^error: invalid --bind-group " "/],
      [['rbac', '--nodes', 'CP_1'], /^error: invalid --nodes "CP_1": give the control-plane node names, comma-separated/],
      [['rbac', '--bind-user'], /^error: --bind-user needs a value \(a user name\)/],
    ] as const) {
      const r = await cli([...args]);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, message);
      assert.equal(r.err.trimEnd().split('\n').length, 1);
      assert.equal(r.out, '');
    }
  });
});
