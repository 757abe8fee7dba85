// Types of targets.mjs, for the TypeScript tests.
export interface Target {
  os: 'linux' | 'darwin' | 'windows';
  arch: 'amd64' | 'arm64';
  pkgPlatform: 'linux' | 'macos' | 'win';
  pkgArch: 'x64' | 'arm64';
  npm: string;
  nodeBin: string;
  exe: '' | '.exe';
  archive: 'tar.gz' | 'zip';
}
export const TARGETS: readonly Target[];
export const NODE_INTEGRITY: Record<string, Record<string, string>>;
export function archiveName(t: Target, version: string): string;
export function archiveForTag(t: Target, tag: string): string;
export function binDir(t: Target): string;
export function exeName(t: Target): string;
export function completionName(t: Target): string;
