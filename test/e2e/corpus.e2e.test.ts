// Every DaemonSet the corpus plans (test/fixtures/corpus and test/fixtures/kubeadm: real control planes) is
// accepted by the bed's real apiserver: `kubectl apply --dry-run=server --validate=strict`, which runs the API's
// own validation and defaulting and rejects unknown fields. Nothing is changed on the cluster.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { KUBECONFIG, REPO, selfhost } from './helpers.ts';

const FIXTURES = join(REPO, 'test', 'fixtures');
const sets = (dir: string) => readdirSync(join(FIXTURES, dir), { withFileTypes: true })
  .filter((d) => d.isDirectory() && /^[a-z0-9v]/.test(d.name)).map((d) => join(FIXTURES, dir, d.name));

describe('corpus DaemonSets on the real apiserver (server-side dry run)', () => {
  for (const dir of [...sets('corpus'), ...sets('kubeadm')]) {
    it(dir.slice(FIXTURES.length + 1), () => {
      const plan = selfhost(['plan', '--manifests-dir', dir, '-o', 'yaml'], 60_000);
      if (plan.code > 1) return; // a set the plan refuses (its golden error line is checked by the unit tests)
      if (!plan.out.includes('kind: DaemonSet')) return; // every component blocked: nothing to send
      const r = spawnSync('kubectl', ['apply', '--dry-run=server', '--validate=strict', '-f', '-'], {
        input: plan.out, encoding: 'utf8', env: { ...process.env, KUBECONFIG },
      });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /daemonset\.apps\/kube-\S+ (created|configured|unchanged) \(server dry run\)/);
    });
  }
});
