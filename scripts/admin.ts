/**
 * `npm run admin -- <command>`: companies, agents and the call log from the command line, on
 * the database `DATABASE_URL` names (from the environment or `.env`, like the servers). The
 * schema is migrated first, so the script works on a new database too.
 *
 * Exit codes: 0 done, 1 the command failed (unknown company, duplicate email, ...: the error's
 * stable code is printed in brackets), 2 bad usage. Password hashes are never printed.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, readEnvironment, type Config } from '../config/config.js';
import { resetPassword, setAgentDisabled, setAgentRole, setCompanyDisabled } from '../db/access.js';
import { listCalls } from '../db/calls.js';
import { AccountError, createAgent, createCompany, getCompany } from '../db/companies.js';
import {
  companySettings,
  normaliseAllowedOrigins,
  setAllowedOrigins,
} from '../db/company-settings.js';
import { openDatabase, type Database } from '../db/database.js';
import type { CallRow } from '../db/schema.js';

const USAGE = `usage: npm run admin -- <command> [arguments]

Commands:
  create-company <companyId> <name>
      Creates a company. The id is its public slug (lower-case letters, digits, dashes).
  create-agent <companyId> <email> <name> --password <password> [--admin]
      Creates an agent of the company (an admin with --admin).
  disable-company <companyId>
      Disables a company: no logins, no visitor tokens, its tokens refused and its open
      connections closed (within a second).
  enable-company <companyId>
      Enables a disabled company again.
  disable-agent <companyId> <email>
      Disables an agent: no login, its tokens refused and its open connections closed (within a
      second). Its tokens stay refused after enable-agent: it logs in again.
  enable-agent <companyId> <email>
      Enables a disabled agent again.
  set-role <companyId> <email> agent|admin
      Makes an agent an admin or an admin an agent. Its tokens of the old role are refused; its
      pages fetch one with the new role.
  set-origins <companyId> [origin...]
      Replaces the web origins allowed to embed the company's call button and fetch its visitor
      tokens from a browser (https://shop.example.com, http://localhost:8080). Without origins,
      clears the list: any site may.
  list-origins <companyId>
      The company's allowed origins.
  reset-password <companyId> <email> --password <password>
      Sets an agent's password. Its tokens are refused and its open connections closed.
  list-calls <companyId> [--limit N]
      The company's calls, newest first (default 50, at most 1000).
  seed-demo
      On a database with no company yet, creates the company "demo" and an admin with a
      random password, and prints how to log in (once: only its hash is stored).
  help
      This text.

Quote names with spaces: create-company acme "Acme Inc".
The database is DATABASE_URL's (default sqlite:./data/calldocker.db), from the environment or .env.`;

/** Bad usage: printed with a pointer to `help`, exit 2. */
class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The demo account `seed-demo` creates. */
const DEMO = {
  companyId: 'demo',
  companyName: 'Demo Company',
  email: 'demo@example.com',
  agentName: 'Demo Admin',
} as const;

const MAX_LIST_LIMIT = 1000;

interface Parsed {
  command: string;
  args: string[];
  password: string | undefined;
  admin: boolean;
  limit: string | undefined;
}

function parse(argv: string[]): Parsed {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        password: { type: 'string' },
        admin: { type: 'boolean', default: false },
        limit: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const [command = values.help ? 'help' : '', ...args] = positionals;
  if (command === '') throw new UsageError('no command given');
  return {
    command,
    args,
    password: values.password,
    admin: values.admin ?? false,
    limit: values.limit,
  };
}

/** Checks the positional count and which options a command accepts. */
function expect(
  parsed: Parsed,
  names: readonly string[],
  options: { password?: boolean; admin?: boolean; limit?: boolean } = {},
): string[] {
  const { command, args } = parsed;
  if (args.length !== names.length) {
    const synopsis = names.map((n) => `<${n}>`).join(' ');
    throw new UsageError(
      `${command} takes ${names.length} argument${names.length === 1 ? '' : 's'} (${synopsis}), ` +
        `got ${args.length}`,
    );
  }
  if (options.password === true && parsed.password === undefined) {
    throw new UsageError(`${command} needs --password <password>`);
  }
  if (options.password !== true && parsed.password !== undefined) {
    throw new UsageError(`${command} takes no --password`);
  }
  if (options.admin !== true && parsed.admin) throw new UsageError(`${command} takes no --admin`);
  if (options.limit !== true && parsed.limit !== undefined) {
    throw new UsageError(`${command} takes no --limit`);
  }
  return args;
}

function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return 50;
  const limit = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(limit >= 1 && limit <= MAX_LIST_LIMIT)) {
    throw new UsageError(
      `--limit must be a whole number from 1 to ${MAX_LIST_LIMIT}, got "${raw}"`,
    );
  }
  return limit;
}

/** `2026-11-21 05:42:10Z` */
function time(ms: number | null): string {
  return ms === null ? '' : `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

function seconds(from: number | null, to: number | null): string {
  return from === null || to === null ? '' : String(Math.max(0, Math.round((to - from) / 1000)));
}

/** Rows as a plain-text table with a header, columns padded to their widest cell. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function callTable(calls: readonly CallRow[]): string {
  return table(
    ['created', 'state', 'reason', 'type', 'visitor', 'agent', 'wait s', 'talk s', 'call id'],
    calls.map((c) => [
      time(c.created_at),
      c.state,
      c.end_reason ?? '',
      c.call_type,
      c.visitor_name,
      c.agent_name ?? (c.target_agent_id === null ? '' : `(rang ${c.target_agent_id})`),
      seconds(c.created_at, c.answered_at),
      c.duration_sec === null ? '' : String(c.duration_sec),
      c.id,
    ]),
  );
}

/** Where people open the web host from this machine. */
function webUrl(config: Config): string {
  const host =
    config.web.host === '0.0.0.0' || config.web.host === '::' ? 'localhost' : config.web.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.web.port}/`;
}

async function seedDemo(database: Database, config: Config): Promise<string[]> {
  const any = await database.db.selectFrom('companies').select('id').limit(1).executeTakeFirst();
  if (any !== undefined) return [];
  const password = randomBytes(18).toString('base64url');
  try {
    // One transaction: a company without its admin would block every later seed.
    await database.db.transaction().execute(async (trx) => {
      await createCompany(trx, DEMO.companyId, DEMO.companyName);
      await createAgent(trx, {
        companyId: DEMO.companyId,
        email: DEMO.email,
        name: DEMO.agentName,
        password,
        role: 'admin',
      });
    });
  } catch (err) {
    // Another seed (a second start racing this one) got there first: it printed the login.
    if (err instanceof AccountError && err.code === 'exists') return [];
    throw err;
  }
  return [
    'Created a demo company and its admin. Log in with (shown only this once):',
    `  URL:      ${webUrl(config)}`,
    `  Company:  ${DEMO.companyId}`,
    `  Email:    ${DEMO.email}`,
    `  Password: ${password}`,
    'Change the password with: npm run admin -- reset-password demo demo@example.com --password <new>',
  ];
}

/** What a command does once its usage is checked: the lines to print. */
type Action = (database: Database, config: Config) => Promise<string[]>;

/** Checks a command's usage (before the database is touched) and returns what it does. */
function prepare(parsed: Parsed): Action {
  switch (parsed.command) {
    case 'create-company': {
      const [id, name] = expect(parsed, ['companyId', 'name']) as [string, string];
      return async ({ db }) => {
        const company = await createCompany(db, id, name);
        return [`Created company ${company.id} (${company.name}).`];
      };
    }
    case 'create-agent': {
      const [companyId, email, name] = expect(parsed, ['companyId', 'email', 'name'], {
        password: true,
        admin: true,
      }) as [string, string, string];
      const password = parsed.password!;
      const role = parsed.admin ? 'admin' : 'agent';
      return async ({ db }) => {
        const agent = await createAgent(db, { companyId, email, name, password, role });
        return [
          `Created ${agent.role} ${agent.email} (${agent.name}) in ${companyId}, id ${agent.id}.`,
        ];
      };
    }
    case 'disable-company':
    case 'enable-company': {
      const [id] = expect(parsed, ['companyId']) as [string];
      const disable = parsed.command === 'disable-company';
      return async ({ db }) => {
        await setCompanyDisabled(db, id, disable);
        return [
          disable
            ? `Disabled company ${id}: no logins, no visitor tokens, its connections closed.`
            : `Enabled company ${id}.`,
        ];
      };
    }
    case 'disable-agent':
    case 'enable-agent': {
      const [companyId, email] = expect(parsed, ['companyId', 'email']) as [string, string];
      const disable = parsed.command === 'disable-agent';
      return async ({ db }) => {
        await setAgentDisabled(db, companyId, email, disable);
        const who = `${email.trim().toLowerCase()} in ${companyId}`;
        return [
          disable
            ? `Disabled ${who}: no login, its tokens refused, its connections closed.`
            : `Enabled ${who}: it may log in again.`,
        ];
      };
    }
    case 'set-role': {
      const [companyId, email, role] = expect(parsed, ['companyId', 'email', 'role']) as [
        string,
        string,
        string,
      ];
      if (role !== 'agent' && role !== 'admin') {
        throw new UsageError(`set-role takes the role agent or admin, got "${role}"`);
      }
      return async ({ db }) => {
        const before = await setAgentRole(db, companyId, email, role);
        const who = `${email.trim().toLowerCase()} in ${companyId}`;
        return [before === role ? `${who} is an ${role} already.` : `${who} is now an ${role}.`];
      };
    }
    case 'set-origins': {
      const [id, ...rawOrigins] = parsed.args;
      if (id === undefined) {
        throw new UsageError('set-origins takes <companyId> [origin...], got no arguments');
      }
      expect({ ...parsed, args: [id] }, ['companyId']);
      let origins: string[];
      try {
        // Checked before the database is opened: a bad origin changes nothing.
        origins = normaliseAllowedOrigins(rawOrigins);
      } catch (err) {
        if (err instanceof AccountError) throw new UsageError(err.message);
        throw err;
      }
      return async ({ db }) => {
        const stored = await setAllowedOrigins(db, id, origins);
        return stored.length === 0
          ? [`Cleared the allowed origins of ${id}: any site may embed it.`]
          : [`Allowed origins of ${id}:`, ...stored.map((o) => `  ${o}`)];
      };
    }
    case 'list-origins': {
      const [id] = expect(parsed, ['companyId']) as [string];
      return async ({ db }) => {
        const company = await getCompany(db, id);
        if (company === undefined) throw new AccountError('not_found', `no company ${id}`);
        const log = {
          warn: (fields: object, msg: string) =>
            process.stderr.write(`admin: warning: ${msg} ${JSON.stringify(fields)}\n`),
        };
        const { allowedOrigins } = companySettings(company, log);
        return allowedOrigins.length === 0
          ? [`${id} lists no origins: any site may embed it.`]
          : [...allowedOrigins];
      };
    }
    case 'reset-password': {
      const [companyId, email] = expect(parsed, ['companyId', 'email'], {
        password: true,
      }) as [string, string];
      const password = parsed.password!;
      return async ({ db }) => {
        await resetPassword(db, companyId, email, password);
        return [
          `Set a new password for ${email.trim().toLowerCase()} in ${companyId}; ` +
            'its old tokens are refused.',
        ];
      };
    }
    case 'list-calls': {
      const [companyId] = expect(parsed, ['companyId'], { limit: true }) as [string];
      const limit = parseLimit(parsed.limit);
      return async ({ db }) => {
        if ((await getCompany(db, companyId)) === undefined) {
          throw new AccountError('not_found', `no company ${companyId}`);
        }
        const viewer = { companyId, userId: '', role: 'admin' } as const;
        const { calls } = await listCalls(db, viewer, {}, { limit });
        if (calls.length === 0) return [`No calls for ${companyId}.`];
        const count = `${calls.length} call${calls.length === 1 ? '' : 's'}, newest first.`;
        return [callTable(calls), count];
      };
    }
    case 'seed-demo':
      expect(parsed, []);
      return seedDemo;
    default:
      throw new UsageError(`unknown command "${parsed.command}"`);
  }
}

async function main(argv: string[]): Promise<number> {
  let action: Action;
  try {
    const parsed = parse(argv);
    if (parsed.command === 'help') {
      expect(parsed, []);
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    action = prepare(parsed);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`admin: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }

  let config: Config;
  try {
    config = loadConfig(readEnvironment());
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`admin: configuration error: ${err.message}\n`);
    return 1;
  }
  let database: Database;
  try {
    database = openDatabase(config.database);
  } catch (err) {
    process.stderr.write(`admin: cannot open ${config.database.url}: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    await database.migrate();
    const lines = await action(database, config);
    if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } catch (err) {
    if (err instanceof AccountError) {
      process.stderr.write(`admin: error [${err.code}]: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`admin: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    await database.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
