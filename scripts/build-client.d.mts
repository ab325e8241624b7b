/** Types of `build-client.mjs` (plain ESM, so the package build needs no compile step). */

/** The package's folder, `client-lib/`. */
export declare const CLIENT_DIR: string;
/** Where the package build writes: `client-lib/dist`. */
export declare const CLIENT_DIST: string;
/** The browser bundle inside the package: `client-lib/dist/calldocker.js` (its map beside it). */
export declare const CLIENT_BUNDLE: string;

/** The package's major version: the protocol version it speaks. */
export declare function clientMajorVersion(): Promise<number>;

/** Builds the browser bundle at `outfile` (default {@link CLIENT_BUNDLE}). */
export declare function buildClient(options?: {
  outfile?: string;
}): Promise<{ file: string; bytes: number }>;

/** Builds the whole package into {@link CLIENT_DIST}. */
export declare function buildClientPackage(): Promise<{ bundleBytes: number }>;
