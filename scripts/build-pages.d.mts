/** Types of `build-pages.mjs` (plain ESM, so the build needs no compile step). */

/** The files of one page, as the host links them. */
export interface PageManifestEntry {
  readonly js: string;
  readonly css: readonly string[];
  /** Chunks the entry imports, for `<link rel="modulepreload">`. */
  readonly preload: readonly string[];
  readonly bytes: number;
}

/** Where the pages are built: `dist/pages`. */
export declare const PAGES_DIR: string;
/** The pages' entry modules by name. */
export declare const PAGE_ENTRIES: Readonly<Record<'visitor' | 'agent', string>>;
/** The button's loader entry. */
export declare const WIDGET_ENTRY: string;

/** Builds every page into `outDir` (default {@link PAGES_DIR}) and resolves with the manifest. */
export declare function buildPages(options?: {
  outDir?: string;
}): Promise<Record<'visitor' | 'agent', PageManifestEntry>>;
