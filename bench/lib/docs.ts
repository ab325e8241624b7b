/**
 * Writes benchmark sections into docs/BENCHMARKS.md. Each section sits between its own
 * markers and is replaced whole; everything outside the markers is kept as written.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import prettier from 'prettier';
import { ROOT } from './build.js';

/** The benchmarks document, relative to the repository. */
export const BENCHMARKS_DOC = 'docs/BENCHMARKS.md';

const PREAMBLE = `# Benchmarks

Figures produced by \`npm run bench\` (see \`bench/\`), which runs each server in its
own process pinned to one CPU, with the load generator on the other CPU, and prints a table.
\`npm run bench -- --write\` rewrites the sections below; text outside their markers is kept.

The machine these were measured on is shared, so absolute times drift from run to run: the
ratios against the baseline measured in the same run are the figures that matter.
`;

/**
 * Replaces (or appends) the section `id` of docs/BENCHMARKS.md with `body`, formatted with the
 * project's Prettier settings so that `npm run lint` stays clean.
 */
export async function writeDocSection(id: string, body: string): Promise<string> {
  const path = join(ROOT, BENCHMARKS_DOC);
  const start = `<!-- bench:${id} -->`;
  const end = `<!-- /bench:${id} -->`;
  const section = `${start}\n${body.trim()}\n${end}`;
  const text = existsSync(path) ? readFileSync(path, 'utf8') : PREAMBLE;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  const updated =
    from >= 0 && to > from
      ? text.slice(0, from) + section + text.slice(to + end.length)
      : `${text.trimEnd()}\n\n${section}\n`;
  const options = await prettier.resolveConfig(path);
  writeFileSync(path, await prettier.format(updated, { ...options, filepath: path }));
  return BENCHMARKS_DOC;
}
