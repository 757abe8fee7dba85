// The Kubernetes versions this tool supports, and why, in one place. The version is read from the image tag of
// the component's own container (kubeadm pins it there); below the minimum the tool refuses before any change.
import { mainContainer } from './container.ts';
import type { Pod } from './k8s-types.ts';

export interface MinorVersion {
  major: number;
  minor: number;
}

/**
 * What the oldest supported minor is made of. Each line: since when, what (short, in the refusal) and why.
 *  - --permit-port-sharing (1.19): every hand-over binds the component's port twice (SO_REUSEPORT); an older
 *    component exits on the unknown flag and crash-loops.
 *  - the node-role.kubernetes.io/control-plane label (1.24): the DaemonSets select control-plane nodes by it;
 *    kubeadm sets it from 1.20 and removed the old node-role.kubernetes.io/master label in 1.24, so from 1.24
 *    on every kubeadm control-plane node has it, whatever version it was created with.
 *  - DaemonSet rollingUpdate.maxSurge GA (1.25): updates surge a new pod beside the old one (maxUnavailable 0);
 *    before 1.25 that is a feature gate (beta from 1.22), and without it the API rejects the DaemonSet.
 */
export const REQUIREMENTS: ReadonlyArray<{ since: MinorVersion; what: string }> = [
  { since: { major: 1, minor: 19 }, what: '--permit-port-sharing (1.19)' },
  { since: { major: 1, minor: 24 }, what: 'the node-role.kubernetes.io/control-plane label on every control-plane node (1.24)' },
  { since: { major: 1, minor: 25 }, what: 'DaemonSet maxSurge (GA in 1.25)' },
];

/** The supported range: from the newest requirement up to the newest minor whose kubeadm output is tested. */
export const MIN_SUPPORTED: MinorVersion = { major: 1, minor: 25 };
export const MAX_TESTED: MinorVersion = { major: 1, minor: 37 };

export const show = (v: MinorVersion) => `${v.major}.${v.minor}`;

/**
 * The Kubernetes version in an image reference: the tag's leading `vMAJOR.MINOR` (tags such as `v1.34.4`,
 * `1.28.1`, `v1.10.4_coreos.0`; a digest after the tag is ignored). undefined without such a tag.
 */
export function versionOfImage(image: string | undefined): MinorVersion | undefined {
  if (image === undefined) return undefined;
  const withoutDigest = image.split('@')[0]!;
  const colon = withoutDigest.lastIndexOf(':');
  if (colon <= withoutDigest.lastIndexOf('/')) return undefined;
  const m = /^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+_.].*)?$/.exec(withoutDigest.slice(colon + 1));
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

const older = (a: MinorVersion, b: MinorVersion) => a.major < b.major || (a.major === b.major && a.minor < b.minor);

export type SupportVerdict =
  | { ok: true; version: MinorVersion; note?: string }
  | { ok: false; reason: string };

/** Whether `component`'s static pod runs a version this tool supports, with the reason when it does not. */
export function checkSupport(component: string, pod: Pick<Pod, 'metadata' | 'spec'>): SupportVerdict {
  const image = mainContainer(pod, component)?.image;
  const version = versionOfImage(image);
  if (version === undefined) {
    return { ok: false, reason: `cannot tell the Kubernetes version of ${component} from its image "${image ?? 'none'}" (a tag such as v1.34.4 is needed); kubectl-selfhost supports Kubernetes ${show(MIN_SUPPORTED)} to ${show(MAX_TESTED)}` };
  }
  if (older(version, MIN_SUPPORTED)) {
    const missing = REQUIREMENTS.filter((r) => older(version, r.since)).map((r) => r.what);
    return { ok: false, reason: `${component} runs Kubernetes ${show(version)}; kubectl-selfhost needs ${show(MIN_SUPPORTED)} or newer (it relies on ${missing.join(', ')}): upgrade the cluster first` };
  }
  if (older(MAX_TESTED, version)) {
    return { ok: true, version, note: `${component} runs Kubernetes ${show(version)}, newer than the newest tested (${show(MAX_TESTED)}): review the planned DaemonSet` };
  }
  return { ok: true, version };
}
