// Types of archive.mjs, for the TypeScript tests that read archives.
export interface Entry {
  name: string;
  file: string;
  mode: number;
}
export interface ReadEntry {
  name: string;
  mode: number;
  type: string;
  content(): Buffer;
}
export function writeTarGz(out: string, entries: Entry[], mtime: number, level?: number): Promise<void>;
export function writeZip(out: string, entries: Entry[], mtime: number, options?: { store?: boolean }): Promise<void>;
export function readArchive(file: string): ReadEntry[];
