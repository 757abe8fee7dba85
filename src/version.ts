// Filled in by the build (esbuild define); source runs report the package version and "dev".
declare const __SELFHOST_VERSION__: string | undefined;
declare const __SELFHOST_COMMIT__: string | undefined;
export const VERSION = typeof __SELFHOST_VERSION__ === 'string' ? __SELFHOST_VERSION__ : '0.1.0-dev';
export const COMMIT = typeof __SELFHOST_COMMIT__ === 'string' ? __SELFHOST_COMMIT__ : 'unknown';
