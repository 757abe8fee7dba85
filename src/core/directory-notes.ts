// The plan's notes about a static pod directory's other files: what the kubelet skips is left alone, and said.
import type { NodeSnapshot } from './snapshot.ts';

export function skippedFileWarnings(nodes: readonly NodeSnapshot[]): Array<{ code: string; message: string }> {
  return nodes.flatMap((n) => (n.skipped ?? []).map((s) => ({ code: 'SkippedFile', message: `${n.name}: ${s.file} is left alone: ${s.reason}` })));
}
