// A fake of the NodeFiles port: files per node in maps, with a call log shared with the fake KubeApi. onChange
// lets a fake kubelet (fakes/kubelet.ts) react to its static pod directory, as the real one watches it.
import type { NodeDirs, NodeFiles } from '../../../src/ports/nodefs.ts';

export interface FakeFiles extends NodeFiles {
  manifests: Map<string, string>;
  backups: Map<string, string>;
  onRemove?: (node: string, file: string) => void;
  /** Called after a manifest was written or removed (not for the backup directory). */
  onChange?: (node: string) => void;
}

export function fakeFiles(calls: string[]): FakeFiles {
  const manifests = new Map<string, string>();
  const backups = new Map<string, string>();
  const k = (node: string, file: string) => `${node}/${file}`;
  const f: FakeFiles = {
    manifests, backups,
    async read(node, _d: NodeDirs, file) { calls.push(`node ${node}: read ${file}`); return manifests.get(k(node, file)) ?? null; },
    async readBackup(node, _d, file) { calls.push(`node ${node}: read backup ${file}`); return backups.get(k(node, file)) ?? null; },
    async backup(node, _d, file, _owner) {
      calls.push(`node ${node}: backup ${file}`);
      if (!backups.has(k(node, file)) && manifests.has(k(node, file))) backups.set(k(node, file), manifests.get(k(node, file))!);
      return backups.get(k(node, file)) ?? null;
    },
    async write(node, _d, file, content) { calls.push(`node ${node}: write ${file}`); manifests.set(k(node, file), content); f.onChange?.(node); },
    async writeBackup(node, _d, file, content) { calls.push(`node ${node}: write backup ${file}`); backups.set(k(node, file), content); },
    async remove(node, _d, file) {
      calls.push(`node ${node}: remove ${file}`);
      if (!backups.has(k(node, file))) throw new Error(`no backup of ${file}`);
      manifests.delete(k(node, file));
      f.onRemove?.(node, file);
      f.onChange?.(node);
    },
    async removeOwned(node, _d, file) {
      calls.push(`node ${node}: remove own ${file}`);
      if (!file.startsWith('kubectl-selfhost-')) throw new Error(`refusing to remove ${file}`);
      manifests.delete(k(node, file));
      f.onChange?.(node);
    },
    async removeBackup(node, _d, file) { calls.push(`node ${node}: remove backup ${file}`); backups.delete(k(node, file)); },
    async removeBackups(node) {
      calls.push(`node ${node}: remove backups`);
      // As the real agent: refused while an original is left (only the inactive checkpoint may go with the directory).
      const left = [...backups.keys()].filter((key) => key.startsWith(`${node}/`));
      const original = left.find((key) => !key.endsWith('/kube-apiserver.checkpoint.yaml'));
      if (original) throw new Error(`refusing to remove the backup directory: ${original} is still a backup`);
      for (const key of left) backups.delete(key);
    },
  };
  return f;
}
