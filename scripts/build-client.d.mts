/** Types of `build-client.mjs` (plain ESM, so `npm run build:client` needs no compile step). */

/** Where the bundle is written: `dist/client-lib/calldocker.js` (its map beside it). */
export declare const CLIENT_BUNDLE: string;

/** Builds the bundle and resolves with its path and size in bytes. */
export declare function buildClient(): Promise<{ file: string; bytes: number }>;
