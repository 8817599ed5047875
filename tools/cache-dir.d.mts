// Types of tools/cache-dir.mjs (plain JavaScript, used before TypeScript loads).
export function cacheDir(name: string, env?: NodeJS.ProcessEnv): string | null;
export function writeEntry(file: string, data: string | Uint8Array): boolean;
export function readEntry(file: string): Buffer | null;
export function trimDir(dir: string, limit: number, suffix: string): void;
