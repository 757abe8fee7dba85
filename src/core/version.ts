// Kubernetes versions as image tags carry them ("v1.34.4", "v1.35.0-rc.1"), compared numerically.

/** The tag of an image reference, without a digest ("registry.k8s.io/kube-apiserver:v1.34.4@sha256:..." -> v1.34.4). */
export function imageTag(image: string | undefined): string | null {
  if (!image) return null;
  const ref = image.split('@')[0]!;
  const at = ref.lastIndexOf(':');
  return at > ref.lastIndexOf('/') ? ref.slice(at + 1) : null;
}

function parts(v: string): number[] | null {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null;
}

/** <0, 0, >0 as a is older, the same or newer than b; 0 when either is not a version (nothing can be said). */
export function compareVersions(a: string, b: string): number {
  const x = parts(a);
  const y = parts(b);
  if (!x || !y) return 0;
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}
