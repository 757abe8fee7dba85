// Types of tools.mjs, for the TypeScript tests.
export const KREW_VERSION: string;
export const RCODESIGN_VERSION: string;
export function krewValidator(cache: string): Promise<{ path: string; missing?: undefined } | { missing: string }>;
export function krewTools(cache: string): Promise<{ krew: string; validate: string; missing?: undefined } | { missing: string }>;
export function rcodesign(cache: string): Promise<{ path: string; missing?: undefined } | { missing: string }>;
