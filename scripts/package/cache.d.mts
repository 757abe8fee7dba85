// Types of cache.mjs, for the TypeScript tests.
export function cacheDir(): string;
export function mkdir(dir: string): string;
export function atomically(dest: string, fill: (tmp: string) => unknown): Promise<void>;
export function log(message: string): void;
