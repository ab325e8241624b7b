/**
 * `deploy/haproxy.cfg`, the configuration docs/DEPLOY.md documents, `start-servers.sh --nodes`
 * runs and the load-balancer tests start: HAProxy accepts it with its required variables alone
 * and with every optional part, and refuses it without them; every line DEPLOY.md quotes is in
 * it and every variable it reads is documented, so the doc cannot drift from the file.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import {
  balancerEnv,
  checkConfig,
  HAPROXY_CONFIG,
  HAPROXY_SKIP_REASON,
  haproxyInstalled,
} from '../cluster/haproxy.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const config = readFileSync(HAPROXY_CONFIG, 'utf8');
const doc = readFileSync(join(root, 'docs', 'DEPLOY.md'), 'utf8');
const skip = haproxyInstalled() ? false : HAPROXY_SKIP_REASON;

const nodes = (count: number) => Array.from({ length: count }, (_, i) => `127.0.0.1:${9001 + i}`);

/** A self-signed certificate and its key in one PEM file, or undefined without openssl. */
function selfSigned(t: Test): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'calldocker-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
  const run = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  if (run.error !== undefined || run.status !== 0) return undefined;
  const pem = join(dir, 'both.pem');
  writeFileSync(pem, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'));
  return pem;
}

t.test('HAProxy accepts it with a bind address and one node', { skip }, async (t) => {
  const check = checkConfig(balancerEnv({ bind: '127.0.0.1:8081', nodes: nodes(1) }));
  if (check.status !== 0) t.comment(check.output);
  t.equal(check.status, 0, 'haproxy -c passes');
});

t.test(
  'HAProxy accepts it with eight nodes, four web hosts, TLS, the stats page and a user',
  { skip },
  async (t) => {
    const tlsCert = selfSigned(t);
    if (tlsCert === undefined) t.comment('openssl is not installed: checked without TLS');
    const env = balancerEnv({
      bind: ':8443',
      nodes: nodes(8),
      web: ['127.0.0.1:3001', '127.0.0.1:3002', '127.0.0.1:3003', '127.0.0.1:3004'],
      stats: '127.0.0.1:8404',
      ...(tlsCert !== undefined && { tlsCert }),
    });
    const check = checkConfig({ ...env, LB_USER: userInfo().username });
    if (check.status !== 0) t.comment(check.output);
    t.equal(check.status, 0, 'haproxy -c passes');
  },
);

t.test('HAProxy refuses it without a node or without a bind address', { skip }, async (t) => {
  t.not(checkConfig({ LB_BIND: '127.0.0.1:8081' }).status, 0, 'without LB_NODE1');
  t.not(checkConfig({ LB_NODE1: '127.0.0.1:9001' }).status, 0, 'without LB_BIND');
});

t.test('every line docs/DEPLOY.md quotes from it is in it', async (t) => {
  const lines = new Set(config.split('\n'));
  const quoted = [...doc.matchAll(/```haproxy\n([\s\S]*?)```/g)].flatMap((m) =>
    m[1]!.split('\n').filter((line) => line.trim() !== ''),
  );
  t.ok(quoted.length >= 8, `DEPLOY.md quotes ${quoted.length} lines`);
  for (const line of quoted) t.ok(lines.has(line), `deploy/haproxy.cfg has "${line.trim()}"`);
  t.match(doc, '[`deploy/haproxy.cfg`](../deploy/haproxy.cfg)', 'and links the file');
});

t.test('every variable it reads is described in its header and in docs/DEPLOY.md', async (t) => {
  const header = config.slice(0, config.indexOf('\nglobal'));
  const body = config.slice(header.length);
  const read = new Set(
    [...body.matchAll(/\$\{(LB_[A-Z_]+?)\d*[-}]|defined\((LB_[A-Z_]+?)\d*\)/g)].map(
      (m) => m[1] ?? m[2]!,
    ),
  );
  t.same([...read].sort(), [
    'LB_BIND',
    'LB_NODE',
    'LB_STATS_BIND',
    'LB_TLS_CERT',
    'LB_USER',
    'LB_WEB',
  ]);
  for (const name of read) {
    t.match(header, name, `the header describes ${name}`);
    t.match(doc, `\`${name}`, `DEPLOY.md describes ${name}`);
  }
});

t.test('start.mjs allows as many nodes as the configuration lists', async (t) => {
  const start = readFileSync(join(root, 'scripts', 'start.mjs'), 'utf8');
  const max = Number(/const MAX_NODES = (\d+);/.exec(start)?.[1]);
  const listed = [...config.matchAll(/^\s+server node(\d+) "\$\{LB_NODE\1\}"$/gm)].length;
  t.equal(listed, max, `${max} nodes listed`);
});
