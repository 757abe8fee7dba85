// An experiment for issue 13's last hand-over, the apiserver DaemonSet's own rolling update (a flag changed through
// the API), which the tool does not run and so does not steer. It measures, on the single-node bed with its addons,
// what the same update costs (a) as today and (b) with the node helper's program left attached to the apiserver's
// SO_REUSEPORT group in "old" mode (new connections from other hosts to the listener that joined first, the probe
// address 127.100.0.1 to the newest) and net.ipv4.tcp_migrate_req=1. (b) is not what pivot leaves behind (pivot
// detaches its program and puts the sysctl back); the script puts both back and rolls back at the end.
//
//   BED_ADDONS=1 bash scripts/testbed/testbed.sh up
//   KUBECONFIG=$(bash scripts/testbed/testbed.sh kubeconfig) node scripts/experiments/ds-update-steering.ts
//
// Prints the three vantage points' figures for each update (node address, in-cluster through the Service).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { KUBECONFIG, kubectl, kubectlJson, modes, REPO, selfhost, status, until } from '../../test/e2e/helpers.ts';
import { probed } from '../../test/e2e/prober.ts';

const BED = join(REPO, 'scripts', 'testbed', 'testbed.sh');
const HELPER = '/var/tmp/kubectl-selfhost-e2e/node-helper';
const MIGRATE = '/proc/sys/net/ipv4/tcp_migrate_req';

function onNode(cmd: string[]): string {
  const r = spawnSync('bash', [BED, 'exec', ...cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`on the node: ${cmd.join(' ')}: exit ${r.status}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

function helper(to: 'old' | 'none'): { wasAttached: boolean } {
  return JSON.parse(onNode([HELPER, 'steer', '--port', '6443', '--exe', 'kube-apiserver', '--to', to])) as { wasAttached: boolean };
}

/** A flag added to the apiserver DaemonSet through the API, probed until the rollout is done and 15 s after. */
async function update(label: string, flag: string): Promise<void> {
  const patch = [{ op: 'add', path: '/spec/template/spec/containers/0/command/-', value: flag }];
  await probed(KUBECONFIG, label, async () => {
    kubectl(['-n', 'kube-system', 'patch', 'daemonset', 'kube-apiserver', '--type=json', '-p', JSON.stringify(patch)]);
    await until('the rollout of the edited apiserver DaemonSet', 600_000, () => {
      const st = kubectlJson<{ metadata: { generation: number }; status: { observedGeneration?: number; updatedNumberScheduled?: number; numberReady?: number; desiredNumberScheduled?: number } }>(['-n', 'kube-system', 'get', 'daemonset', 'kube-apiserver']);
      return st.status.observedGeneration === st.metadata.generation && st.status.updatedNumberScheduled === st.status.desiredNumberScheduled && st.status.numberReady === st.status.desiredNumberScheduled;
    });
    await new Promise((r) => setTimeout(r, 15_000));
  });
}

// 1. A clean bed: kubeadm's static control plane, nothing of the tool.
const before = status();
if (before.code !== 0 || Object.values(modes(before.doc)).some((m) => m !== 'static')) {
  console.error('ds-update-steering: needs the bed with its static control plane (testbed.sh up), status healthy');
  process.exit(2);
}
const host = execFileSync('bash', [BED, 'path', '-', HELPER], { encoding: 'utf8' }).trim();
mkdirSync(dirname(host), { recursive: true, mode: 0o700 });
const arch = process.arch === 'arm64' ? 'arm64' : 'amd64';
writeFileSync(host, gunzipSync(readFileSync(join(REPO, 'dist', 'node-helper', `node-helper-linux-${arch}.gz`))), { mode: 0o700 });
const migrateBefore = onNode(['cat', MIGRATE]);
// 2. Pivot.
const p = selfhost(['pivot', '--yes']);
if (p.code !== 0) throw new Error(`pivot: exit ${p.code}: ${p.err}`);
try {
  // 3. The rolling update as it is today.
  await update('DaemonSet rolling update, as today', '--v=2');
  // 4. The program in "old" mode and tcp_migrate_req=1, then two rolling updates: the program is attached once.
  onNode(['sh', '-c', `echo 1 > ${MIGRATE}`]);
  helper('old');
  await update('DaemonSet rolling update, the program left attached and tcp_migrate_req=1', '--v=1');
  await update('a second DaemonSet rolling update, the same program (not attached again)', '--v=3');
  console.log(`# the program was still attached after both updates: ${helper('none').wasAttached}`);
} finally {
  // 5. Everything put back: no program, the sysctl as it was, the static control plane.
  try { helper('none'); } catch { /* no listener, or none attached */ }
  onNode(['sh', '-c', `echo ${migrateBefore} > ${MIGRATE}`]);
  const r = selfhost(['rollback', '--yes']);
  console.log(`# rollback: exit ${r.code}`);
}
