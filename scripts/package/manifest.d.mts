// Types of manifest.mjs, for the TypeScript tests.
export const DEFAULT_RELEASE_URL: string;
export function renderManifest(template: string, v: { version: string; releaseUrl: string; platforms: Record<string, { archive: string; sha256: string }> }): string;
export function renderKrewBotTemplate(template: string, v: { releaseUrl: string; archives: Record<string, string> }): string;
