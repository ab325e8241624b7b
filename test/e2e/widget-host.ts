/**
 * Helpers of the call button's browser tests: a company's "own site" on another origin (a
 * `node:http` server of the test's, on its own port), the one-line snippet, the loader's console
 * warnings, the call page's frame, and the company's allowed origins written where both servers
 * read them on each request.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Frame, Page } from 'playwright-core';
import type { Test } from 'tap';
import { parseDatabaseUrl } from '../../config/config.js';
import { setAllowedOrigins } from '../../db/company-settings.js';
import { openDatabase } from '../../db/database.js';
import { until } from './harness.js';

/**
 * Serves `pages` (path to HTML) at `http://127.0.0.1:<port>`, another origin than the web
 * host's, with no CSP of its own; closed at teardown. Resolves with the origin.
 */
export async function serveHostSite(t: Test, pages: Record<string, string>): Promise<string> {
  const server = createServer((req, res) => {
    const html = pages[(req.url ?? '/').split('?')[0]!];
    res.writeHead(html === undefined ? 404 : 200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A host page: `body` and the one-line snippet for `company` at `web` (plus `attrs`). */
export function hostPage(
  web: string,
  company: string,
  options: { head?: string; body?: string; attrs?: string } = {},
): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A company's own site</title>
<link rel="icon" href="data:,">${options.head ?? ''}</head>
<body><h1>Our shop</h1>${options.body ?? ''}
<script src="${web}/widget.js" data-company="${company}" ${options.attrs ?? ''} async></script>
</body></html>`;
}

/** Collects the page's console warnings that come from the loader. */
export function loaderWarnings(page: Page): string[] {
  const warnings: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'warning' && msg.text().startsWith('CallDocker:')) {
      warnings.push(msg.text());
    }
  });
  return warnings;
}

/** The call page's frame (`/c/<company>?embed=1` at `web`), once the page has one. */
export async function callFrame(page: Page, web: string, company: string): Promise<Frame> {
  const url = `${web}/c/${company}?embed=1`;
  const frame = await until(
    `a frame of ${url}`,
    async () => page.frames().find((f) => f.url() === url),
    (f) => f !== undefined,
  );
  return frame!;
}

/** Replaces `companyId`'s allowed origins in the stack's database (both servers read it live). */
export async function setOrigins(
  databasePath: string,
  companyId: string,
  origins: readonly string[],
): Promise<void> {
  const database = openDatabase(parseDatabaseUrl(`sqlite:${databasePath}`));
  try {
    await setAllowedOrigins(database.db, companyId, origins);
  } finally {
    await database.close();
  }
}
