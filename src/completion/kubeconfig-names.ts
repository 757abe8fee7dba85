// Context, cluster and user names for completion, read from the same kubeconfig files the CLI would load
// (--kubeconfig, else the KUBECONFIG list, else ~/.kube/config) with a plain YAML read: client-node costs ~110 ms
// to load, far too much for a <TAB>. A file that is missing or unreadable simply contributes no names.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { load } from 'js-yaml';

export type NameField = 'contexts' | 'clusters' | 'users';

export function kubeconfigFiles(kubeconfigFlag: string | undefined, env: NodeJS.ProcessEnv): string[] {
  if (kubeconfigFlag) return [kubeconfigFlag];
  const fromEnv = (env['KUBECONFIG'] ?? '').split(delimiter).filter(Boolean);
  return fromEnv.length > 0 ? fromEnv : [join(env['HOME'] ?? homedir(), '.kube', 'config')];
}

/** Names in file order, first file first, without duplicates (kubectl's merge keeps the first of each name). */
export function kubeconfigNames(field: NameField, files: readonly string[], read: (file: string) => string = (f) => readFileSync(f, 'utf8')): string[] {
  const names = new Set<string>();
  for (const file of files) {
    let doc: unknown;
    try {
      doc = load(read(file));
    } catch {
      continue;
    }
    const entries = (doc as Record<string, unknown> | null)?.[field];
    if (!Array.isArray(entries)) continue;
    for (const e of entries) {
      const name = (e as { name?: unknown } | null)?.name;
      if (typeof name === 'string' && name !== '') names.add(name);
    }
  }
  return [...names];
}
