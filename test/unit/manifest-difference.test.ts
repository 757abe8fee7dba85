// What the plan says differs between two nodes' manifests of one component (src/core/manifest-difference.ts), on
// the real kubeadm v1.34.4 kube-apiserver manifest with one node's copy changed as each row says.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Pod } from '../../src/core/k8s-types.ts';
import { fieldDifferences, manifestDifference, manifestsDifferReason, mayBeSecret } from '../../src/core/manifest-difference.ts';
import { toPodTemplate } from '../../src/core/transform/daemonset.ts';
import { readStaticPod } from '../../src/sources/manifests-dir.ts';
import { FIXTURES } from './helpers.ts';

const real = (version: string) => readStaticPod(join(FIXTURES, 'kubeadm', version), 'kube-apiserver.yaml').pod;
const edited = (edit: (p: Pod) => void, version = 'v1.34.4') => {
  const p = structuredClone(real(version));
  edit(p);
  return p;
};
const command = (p: Pod) => p.spec.containers[0]!.command!;
const side = (node: string, pod: Pod) => ({ node, template: toPodTemplate('kube-apiserver', pod) });
const differ = (a: Pod, b: Pod) => manifestDifference('kube-apiserver', side('cp-1', a), side('cp-2', b));

describe('manifestDifference', () => {
  const CASES: Array<{ name: string; a?: Pod; b: Pod; what: string; versions?: boolean }> = [
    {
      name: 'a flag set differently',
      a: edited((p) => command(p).push('--max-requests-inflight=400')),
      b: edited((p) => command(p).push('--max-requests-inflight=800')),
      what: '--max-requests-inflight=400 on cp-1, 800 on cp-2',
    },
    { name: 'a flag on one node only', b: edited((p) => command(p).push('--v=4')), what: '--v=4 on cp-2 only' },
    { name: 'a flag only the first node has', a: edited((p) => command(p).push('--profiling=false')), b: real('v1.34.4'), what: '--profiling=false on cp-1 only' },
    { name: '`--f v` and `--f=v` are one setting: only the command line differs', b: edited((p) => command(p).push('--v', '2')), a: edited((p) => command(p).push('--v=2')), what: 'its pod spec (spec.containers[0].command)' },
    {
      name: 'more than three flags: three named, then how many more',
      b: edited((p) => command(p).push('--v=4', '--profiling=false', '--max-requests-inflight=800', '--audit-log-maxage=30', '--audit-log-maxsize=100')),
      what: '--v=4 on cp-2 only; --profiling=false on cp-2 only; --max-requests-inflight=800 on cp-2 only; and 2 more flags',
    },
    {
      name: 'the image alone: another version (a node mid-upgrade)',
      b: edited((p) => { p.spec.containers[0]!.image = 'registry.k8s.io/kube-apiserver:v1.33.6'; }),
      what: 'image registry.k8s.io/kube-apiserver:v1.34.4 on cp-1, ...:v1.33.6 on cp-2', versions: true,
    },
    {
      name: 'the image alone: another registry, the same version',
      b: edited((p) => { p.spec.containers[0]!.image = 'mirror.example.com/kube-apiserver:v1.34.4'; }),
      what: 'image registry.k8s.io/kube-apiserver:v1.34.4 on cp-1, mirror.example.com/kube-apiserver:v1.34.4 on cp-2', versions: false,
    },
    {
      name: 'the image and a flag: both named, the image first',
      b: edited((p) => { p.spec.containers[0]!.image = 'registry.k8s.io/kube-apiserver:v1.35.4'; command(p).push('--v=4'); }),
      what: 'image registry.k8s.io/kube-apiserver:v1.34.4 on cp-1, ...:v1.35.4 on cp-2; --v=4 on cp-2 only', versions: true,
    },
    {
      name: 'another field: the fields named, down to the container',
      b: edited((p) => { p.spec.containers[0]!['resources'] = { requests: { cpu: '500m' } }; p.spec.volumes!.push({ name: 'audit', hostPath: { path: '/var/log/kubernetes' } }); }),
      what: 'its pod spec (spec.containers[0].resources, spec.volumes)',
    },
    {
      name: 'a secret-looking flag: its name only',
      a: edited((p) => command(p).push('--token-auth-file=/etc/kubernetes/tokens-a.csv')),
      b: edited((p) => command(p).push('--token-auth-file=/etc/kubernetes/tokens-b.csv')),
      what: '--token-auth-file (value not shown)',
    },
    { name: 'a secret-looking flag on one node only: its name only', b: edited((p) => command(p).push('--oidc-client-secret=s3cr3t')), what: '--oidc-client-secret on cp-2 only (value not shown)' },
    {
      name: 'credentials in a URL: the flag\'s name only',
      b: edited((p) => { command(p).splice(command(p).indexOf('--etcd-servers=https://127.0.0.1:2379'), 1, '--etcd-servers=https://root:pa55@127.0.0.1:2379'); }),
      what: '--etcd-servers (value not shown)',
    },
    { name: 'a boolean is shown, though its name says token', b: edited((p) => { command(p).splice(command(p).indexOf('--enable-bootstrap-token-auth=true'), 1, '--enable-bootstrap-token-auth=false'); }), what: '--enable-bootstrap-token-auth=true on cp-1, false on cp-2' },
  ];
  for (const { name, a, b, what, versions } of CASES) {
    it(name, () => {
      const d = differ(a ?? real('v1.34.4'), b);
      assert.equal(d.what, what);
      assert.equal(d.versions, versions ?? false);
    });
  }

  it('the node\'s own address is no difference: kubeadm\'s manifest for another address gives the same template', () => {
    const other = edited((p) => {
      p.metadata.annotations!['kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint'] = '10.213.0.3:6443';
      command(p).splice(command(p).indexOf('--advertise-address=10.213.0.2'), 1, '--advertise-address=10.213.0.3');
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) p.spec.containers[0]![probe]!.httpGet!.host = '10.213.0.3';
    });
    assert.deepEqual(fieldDifferences(side('cp-1', real('v1.34.4')).template, side('cp-2', other).template), []);
  });
});

describe('mayBeSecret', () => {
  const CASES: Array<[string, string, boolean]> = [
    ['--token-auth-file', '/etc/kubernetes/tokens.csv', true],
    ['--service-account-key-file', '/etc/kubernetes/pki/sa.pub', true],
    ['--basic-auth-file', '/etc/kubernetes/users.csv', true],
    ['--etcd-servers', 'https://user:password@10.0.0.1:2379', true],
    ['--etcd-servers', 'https://127.0.0.1:2379', false],
    ['--enable-bootstrap-token-auth', 'true', false],
    ['--max-requests-inflight', '800', false],
  ];
  for (const [flag, value, secret] of CASES) it(`${flag}=${value}: ${secret ? 'name only' : 'shown'}`, () => assert.equal(mayBeSecret(flag, value), secret));
});

describe('manifestsDifferReason', () => {
  const path = '/etc/kubernetes/manifests/kube-apiserver.yaml';
  it('a per-node setting: names both nodes and the flag, then how to make them one', () => {
    const reason = manifestsDifferReason('kube-apiserver', side('cp-1', real('v1.34.4')), side('cp-2', edited((p) => command(p).push('--v=4'))), path);
    assert.equal(reason, 'cp-1 and cp-2 have different kube-apiserver manifests beyond the node address: --v=4 on cp-2 only; one DaemonSet runs the same pod on every node, so make /etc/kubernetes/manifests/kube-apiserver.yaml the same on every node (apply the same kubeadm patch on each, or edit the file on the node), or leave kube-apiserver out with --components, then plan again');
  });

  it('another version: the fix is to finish kubeadm upgrade', () => {
    const reason = manifestsDifferReason('kube-apiserver', side('cp-1', real('v1.33.6')), side('cp-2', real('v1.34.4')), path);
    assert.match(reason, /^cp-1 and cp-2 have different kube-apiserver manifests beyond the node address: image registry\.k8s\.io\/kube-apiserver:v1\.33\.6 on cp-1, \.\.\.:v1\.34\.4 on cp-2; .*finish "kubeadm upgrade" on every control-plane node/);
    assert.doesNotMatch(reason, /kubeadm patch/);
  });

  it('more nodes that differ are named too', () => {
    const reason = manifestsDifferReason('kube-apiserver', side('cp-1', real('v1.34.4')), side('cp-2', edited((p) => command(p).push('--v=4'))), path, ['cp-3']);
    assert.match(reason, /--v=4 on cp-2 only \(cp-3 differs from cp-1 too\); /);
  });

  it('is one line, whatever the values hold', () => {
    const reason = manifestsDifferReason('kube-apiserver', side('cp-1', real('v1.34.4')), side('cp-2', edited((p) => command(p).push('--audit-policy-file=/etc/a b\n/c'))), path);
    assert.match(reason, /--audit-policy-file="\/etc\/a b\\n\/c" on cp-2 only; /);
    assert.equal(reason.includes('\n'), false);
  });
});
