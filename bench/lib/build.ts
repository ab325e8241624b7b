/**
 * Makes sure the servers under test run as plain `node`: builds `dist/` when it is missing or
 * older than the sources, and transpiles the benchmark's own server entries next to it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const SERVERS_SOURCE = join(ROOT, 'bench/servers');

function newestSourceMs(dirs: readonly string[]): number {
  let newest = 0;
  for (const dir of dirs) {
    for (const entry of readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
      newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return newest;
}

function builtAtMs(): number | undefined {
  try {
    return statSync(join(ROOT, 'dist/server/app.js')).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * The folders `npm run build` compiles, as tsconfig.build.json lists them: read, not restated,
 * so that a new top-level module (as auth/, config/, db/ and common/ were) is watched too.
 */
function builtFolders(): string[] {
  const { config, error } = ts.readConfigFile(join(ROOT, 'tsconfig.build.json'), ts.sys.readFile);
  const include: unknown = (config as { include?: unknown } | undefined)?.include;
  if (error !== undefined || !Array.isArray(include)) {
    throw new Error('tsconfig.build.json: cannot read its "include" list');
  }
  return include.filter((entry): entry is string => typeof entry === 'string');
}

/**
 * Runs `npm run build` when `dist/` is missing or a file in a folder the build compiles is
 * newer than it (a stale build would benchmark old code).
 * @throws Error when the build fails.
 */
export function ensureBuild(log: (line: string) => void): void {
  const builtAt = builtAtMs();
  if (builtAt !== undefined && builtAt >= newestSourceMs(builtFolders())) return;
  log(builtAt === undefined ? 'dist/ is missing: building' : 'dist/ is stale: rebuilding');
  try {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  } catch {
    throw new Error('`npm run build` failed; fix the build (or retry) and run the benchmark again');
  }
}

/** Strips the types of `source` (a `.ts` file) and writes it to `out`. */
function transpileFile(source: string, out: string): void {
  const { outputText } = ts.transpileModule(readFileSync(source, 'utf8'), {
    fileName: source,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
    },
  });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, outputText);
}

/**
 * Transpiles `bench/servers/*.ts` to `dist/bench/servers/*.js`, where their
 * relative imports of `server/` land on the compiled server. Type-checking is `npm run
 * typecheck`'s job; this only strips types.
 * @returns the directory holding the compiled entries.
 */
export function compileBenchServers(): string {
  const outDir = join(ROOT, 'dist', relative(ROOT, SERVERS_SOURCE));
  for (const name of readdirSync(SERVERS_SOURCE)) {
    if (!name.endsWith('.ts')) continue;
    transpileFile(join(SERVERS_SOURCE, name), join(outDir, name.replace(/\.ts$/, '.js')));
  }
  return outDir;
}

/**
 * Transpiles the modules `names` of `bench/lib/` (a load process's entry and the modules of ours
 * it runs) to `dist/bench/lib/`, each alone, so that a load process runs as plain `node`.
 * Imports of types only are dropped; every other local import must be among `names`.
 * @returns the compiled first module, the entry.
 */
export function compileBenchLib(names: readonly [string, ...string[]]): string {
  const outDir = join(ROOT, 'dist/bench/lib');
  for (const name of names) {
    transpileFile(join(ROOT, `bench/lib/${name}.ts`), join(outDir, `${name}.js`));
  }
  return join(outDir, `${names[0]}.js`);
}
