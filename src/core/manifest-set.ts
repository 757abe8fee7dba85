// A static pod directory is ambiguous when it cannot say which file is which component: two files for one
// component (the kubelet would run both pods, or one of them by name collision), or a file named after one
// component whose pod says it is another. Refused with one line naming the files, before anything is planned.
import { COMPONENTS } from './components.ts';
import type { StaticPodSeen } from './snapshot.ts';

const KNOWN = [...COMPONENTS, 'etcd'];

/** The component a file's name claims ("kube-apiserver.yaml" -> kube-apiserver), if any. */
export function claimedByName(file: string): string | undefined {
  const stem = file.replace(/\.(ya?ml|json)$/i, '');
  return KNOWN.find((k) => k === stem);
}

const identity = (s: StaticPodSeen) =>
  s.recognition.kind === 'component' ? s.recognition.component : s.recognition.kind === 'etcd' ? 'etcd' : undefined;

export function ambiguityProblem(pods: readonly StaticPodSeen[]): string | undefined {
  for (const s of pods) {
    const claimed = s.file === undefined ? undefined : claimedByName(s.file);
    const is = identity(s);
    if (claimed !== undefined && is !== undefined && is !== claimed) {
      return `${s.file} holds ${is} (component label "${s.pod.metadata.labels?.['component'] ?? 'none'}"), not ${claimed}: rename the file or fix its label`;
    }
  }
  for (const c of COMPONENTS) {
    const files = pods.filter((s) => identity(s) === c).map((s) => s.file ?? s.pod.metadata.name ?? '?');
    if (files.length > 1) {
      return `${files.join(' and ')} are both ${c}: the kubelet runs every file of the directory, so keep one and move the others out of it`;
    }
  }
  return undefined;
}
