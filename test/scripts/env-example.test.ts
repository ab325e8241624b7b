/**
 * env.example is what the quick start copies to .env, so it must list every variable the
 * config module reads, with the config module's own defaults, and leave JWT_SECRET empty for
 * start-servers.sh to fill.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'dotenv';
import t from 'tap';
import { loadConfig } from '../../config/config.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const example = parse(readFileSync(join(REPO, 'env.example')));
const configSource = readFileSync(join(REPO, 'config', 'config.ts'), 'utf8');
// Read through the typed helpers (`int(env, 'X', ...)`) or directly (`env['X']`).
const readByConfig = new Set(
  [
    ...configSource.matchAll(/\b(?:int|str|list)\(\s*env,\s*'([A-Z][A-Z0-9_]*)'/g),
    ...configSource.matchAll(/\benv\[\s*'([A-Z][A-Z0-9_]*)'\s*\]/g),
  ].map((m) => m[1]!),
);

t.test('env.example lists exactly the variables the config module reads', async (t) => {
  t.ok(readByConfig.size >= 20, `found the variables in config/config.ts (${readByConfig.size})`);
  t.same(
    [...readByConfig].filter((name) => !(name in example)),
    [],
    'none missing',
  );
  t.same(
    Object.keys(example).filter((name) => !readByConfig.has(name)),
    [],
    'none the config module ignores',
  );
});

t.test('env.example as .env gives the same configuration as the defaults', async (t) => {
  t.same(loadConfig(example), loadConfig({}));
});

t.test('env.example names the database, token lifetimes and service level', async (t) => {
  for (const name of [
    'DATABASE_URL',
    'VISITOR_TOKEN_TTL_S',
    'AGENT_TOKEN_TTL_S',
    'SERVICE_LEVEL_S',
  ]) {
    t.ok(readByConfig.has(name), `${name} is read by the config module`);
    t.ok(name in example, `${name} is in env.example`);
  }
  const config = loadConfig(example);
  t.equal(config.database.url, 'sqlite:./data/calldocker.db');
  t.equal(config.web.visitorTokenTtlS, 900);
  t.equal(config.web.agentTokenTtlS, 28_800);
  t.equal(config.web.serviceLevelS, 20);
});

t.test('env.example leaves JWT_SECRET empty for start-servers.sh to fill', async (t) => {
  t.equal(example.JWT_SECRET, '');
  t.match(readFileSync(join(REPO, 'env.example'), 'utf8'), /^JWT_SECRET=$/m);
});
