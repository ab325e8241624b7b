/**
 * The one configuration module: reads the environment (and `.env`), validates every value and
 * returns a typed, frozen object. Nothing else in the project reads `process.env`.
 *
 * A bad value stops start-up with a {@link ConfigError} naming the variable, rather than
 * surfacing later as a NaN timeout or a server that accepts unsigned tokens.
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseDotenv } from 'dotenv';
import { QUEUE_PAGE_MAX } from '../client-lib/constants.js';
import { compileTrust } from '../common/client-address.js';
import { parseOrigin } from '../common/origin.js';

/** Thrown for a missing or invalid setting; `variable` names the environment variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

/** How tokens are verified. */
export interface JwtConfig {
  /** HS256 shared secret; also what the web host signs visitor and agent tokens with. */
  readonly secret: string | undefined;
  /** PEM public key (RS256 or ES256) read from `JWT_PUBLIC_KEY`, when set. */
  readonly publicKey: string | undefined;
  /** Required `iss`, when set. */
  readonly issuer: string | undefined;
  /** Required `aud`, when set. */
  readonly audience: string | undefined;
}

/** Everything the signaling server needs; tests build it with {@link signalingDefaults}. */
export interface SignalingConfig {
  readonly host: string;
  readonly port: number;
  readonly jwt: JwtConfig;
  readonly heartbeatIntervalMs: number;
  readonly maxMessageBytes: number;
  readonly rateLimitMsgsPerSec: number;
  readonly rateLimitBurst: number;
  /** Send-buffer size past which a connection is closed as a slow consumer. */
  readonly sendHighWaterBytes: number;
  readonly maxConnectionsPerUser: number;
  /**
   * Whom to believe about a client's address (`TRUST_PROXY`, as {@link WebConfig.trustProxy}):
   * the per-address limits below key on it (see `common/client-address.ts`).
   */
  readonly trustProxy: boolean | number | string;
  /** Live visitor connections per client address on this node; one more is closed with 4008. */
  readonly maxVisitorConnectionsPerAddress: number;
  /** `call_request`s a visitor may make per minute; more are refused with `rate_limited`. */
  readonly callRequestsPerVisitorPerMin: number;
  /** `call_request`s per client address per minute, all visitors together (`rate_limited`). */
  readonly callRequestsPerAddressPerMin: number;
  /** Calls a company's queue may hold; one more request is refused with `queue_full`. */
  readonly maxQueuedCallsPerCompany: number;
  readonly stunUrls: readonly string[];
  readonly turnUrls: readonly string[];
  readonly turnSecret: string | undefined;
  readonly turnTtlS: number;
  readonly missedRingsBeforeAway: number;
  readonly ringTimeoutMs: number;
  readonly queueTimeoutMs: number;
  readonly callReconnectGraceMs: number;
  /**
   * The most queue entries (the oldest) each `queue_updated` carries; its `total` gives the
   * queue's length and `queue_list` pages through the rest. Bounds what a long queue of long
   * purposes costs every agent at every change (issue 11).
   */
  readonly queueAnnounceMax: number;
  /** How long a graceful shutdown may take before remaining sockets are destroyed. */
  readonly shutdownTimeoutMs: number;
  /**
   * Presence and queue announcements are coalesced per company over this many milliseconds
   * (the latest state of each agent wins); 0 sends each change at once.
   */
  readonly presenceTickMs: number;
  /**
   * Connections the kernel may hold waiting to be accepted (`listen` backlog; the kernel caps
   * it at `net.core.somaxconn`). Node's 511 overflows when thousands reconnect at once after a
   * restart, and each overflowed attempt costs its client a SYN retry of a second or more.
   */
  readonly listenBacklog: number;
  /**
   * `METRICS_TOKEN`: when set, `/metrics` answers only requests with it as a bearer (see
   * `server/metrics-access.ts`).
   */
  readonly metricsToken: string | undefined;
  /** Without a token, `/metrics` answers loopback clients only (set in production). */
  readonly metricsLoopbackOnly: boolean;
  /**
   * The web host's own origins (`WEB_ORIGINS`), normalised: a browser upgrade from one of them
   * may use any visitor token of its deployment (see `server/upgrade-origin.ts`). Empty: derived
   * from each upgrade's `Host` hostname and {@link webPort}.
   */
  readonly webOrigins: readonly string[];
  /** The web host's port (`WEB_PORT`), for deriving its origins when `webOrigins` is empty. */
  readonly webPort: number;
  /**
   * How often each server reads the access journal (`ACCESS_POLL_MS`): a disabled agent or
   * company, a password reset or a role change reaches live connections and cached answers
   * within about this long. The web host reads it from here too.
   */
  readonly accessPollMs: number;
}

/** Where the call log, companies and agents live. */
/** Where companies, agents and the call log live (`DATABASE_URL`). */
export type DatabaseConfig = SqliteConfig | PostgresConfig;

/** One SQLite file (`sqlite:<path>`), shared by the processes of one machine. */
export interface SqliteConfig {
  /** The normalised URL, e.g. `sqlite:./data/calldocker.db`. */
  readonly url: string;
  readonly dialect: 'sqlite';
  /** File path of the SQLite database (`:memory:` for a private in-memory one). */
  readonly path: string;
}

/** A PostgreSQL database (`postgres://...`), shared by every node and web host. */
export interface PostgresConfig {
  /** The URL as given, with any password replaced by `***` (it is logged). */
  readonly url: string;
  readonly dialect: 'postgres';
  /** What the `pg` driver connects with: the URL without our own `schema` parameter. */
  readonly connectionString: string;
  /**
   * The schema the tables live in (`?schema=name`); undefined uses the server's search path
   * (normally `public`). Lets several deployments, or parallel test runs, share one database.
   */
  readonly schema: string | undefined;
}

/** What the web host needs besides its address. */
export interface WebConfig {
  readonly host: string;
  readonly port: number;
  readonly signalingUrl: string;
  /** Lifetime of anonymous visitor tokens (`POST /api/visitor-token`). */
  readonly visitorTokenTtlS: number;
  /** Lifetime of agent and admin tokens (`POST /api/auth/login`). */
  readonly agentTokenTtlS: number;
  /** An answer within this many seconds counts toward the service level. */
  readonly serviceLevelS: number;
  /**
   * Whom to believe about the client's address and scheme (`X-Forwarded-For`,
   * `X-Forwarded-Proto`): false (nobody), true (every proxy), a hop count, or a comma-separated
   * list of proxy addresses/CIDRs. Behind a reverse proxy, per-IP rate limits and HSTS need it.
   */
  readonly trustProxy: boolean | number | string;
  /**
   * Longest a client may take to send a whole request, headers and body (Node's
   * `requestTimeout`): a body trickled byte by byte is answered 408 and cut off here.
   */
  readonly requestTimeoutMs: number;
  /**
   * Longest a client may take to send a request's headers (Node's `headersTimeout`), counted
   * from the connection or the previous response: also what closes a connection on which
   * nothing is sent. At most {@link requestTimeoutMs}.
   */
  readonly headersTimeoutMs: number;
  /** How long an idle keep-alive connection is kept between requests. */
  readonly keepAliveTimeoutMs: number;
  /** A connection with no traffic either way for this long is closed (Node's `server.timeout`). */
  readonly connectionTimeoutMs: number;
  /**
   * `Strict-Transport-Security: max-age` sent when a trusted proxy says the request came over
   * https (`trustProxy` set); 0 sends none.
   */
  readonly hstsMaxAgeS: number;
}

/** The whole system's configuration. */
export interface Config {
  readonly env: 'development' | 'production' | 'test';
  readonly logLevel: string;
  readonly signaling: SignalingConfig;
  readonly web: WebConfig;
  readonly database: DatabaseConfig;
  /** Cluster mode: set when `REDIS_URL` is; undefined runs one node on its own memory. */
  readonly redis: RedisConfig | undefined;
}

/** Where the nodes of a cluster share their state (`REDIS_URL`). */
export interface RedisConfig {
  /** `redis://` or `rediss://`, as ioredis takes it. */
  readonly url: string;
  /** Every key and channel starts with it (`REDIS_PREFIX`): deployments may share a Redis. */
  readonly prefix: string;
  /** This node's id (`NODE_ID`), unique in the cluster; undefined: a random one at start. */
  readonly nodeId: string | undefined;
}

/** Node ids and key prefixes: short, and never holding a connection id's separator. */
const REDIS_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Parses `REDIS_URL`, `REDIS_PREFIX` and `NODE_ID`; undefined without `REDIS_URL`. */
export function parseRedisConfig(env: Env): RedisConfig | undefined {
  const url = str(env, 'REDIS_URL');
  if (url === undefined) return undefined;
  if (!/^rediss?:\/\/[^\s]+$/.test(url)) {
    throw new ConfigError(
      'REDIS_URL',
      `expected redis://host:port[/db] or rediss://..., got "${url}"`,
    );
  }
  const prefix = str(env, 'REDIS_PREFIX') ?? 'calldocker:';
  if (!REDIS_NAME.test(prefix)) {
    throw new ConfigError('REDIS_PREFIX', 'expected 1 to 64 letters, digits, or _ . : -');
  }
  const nodeId = str(env, 'NODE_ID');
  if (nodeId !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(nodeId)) {
    throw new ConfigError('NODE_ID', 'expected 1 to 32 letters, digits, _ or -');
  }
  return { url, prefix, nodeId };
}

/** The database used when `DATABASE_URL` is unset. */
export const DEFAULT_DATABASE_URL = 'sqlite:./data/calldocker.db';

/** A PostgreSQL schema name we create and put in the search path: a plain identifier. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Parses `DATABASE_URL`: `sqlite:<path>` (or `sqlite://<path>`), or
 * `postgres://user:password@host:port/database[?schema=name]` (or `postgresql://`), any other
 * parameter passed to the `pg` driver as is.
 */
export function parseDatabaseUrl(raw: string | undefined): DatabaseConfig {
  const url = raw === undefined || raw.trim() === '' ? DEFAULT_DATABASE_URL : raw.trim();
  const match = /^sqlite:(?:\/\/)?(.+)$/.exec(url);
  if (match !== null) return { url, dialect: 'sqlite', path: match[1]! };
  if (/^postgres(ql)?:\/\//i.test(url)) return parsePostgresUrl(url);
  throw new ConfigError(
    'DATABASE_URL',
    `expected sqlite:<path> or postgres://user@host:port/database, got "${url}"`,
  );
}

function parsePostgresUrl(url: string): PostgresConfig {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('DATABASE_URL', 'expected postgres://user@host:port/database');
  }
  if (parsed.hostname === '' && !parsed.searchParams.has('host')) {
    throw new ConfigError('DATABASE_URL', 'a postgres:// URL needs a host');
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) {
    throw new ConfigError(
      'DATABASE_URL',
      'a postgres:// URL needs one database name after the host',
    );
  }
  const schemas = parsed.searchParams.getAll('schema');
  if (schemas.length > 1) throw new ConfigError('DATABASE_URL', 'schema is given more than once');
  const schema = schemas[0];
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new ConfigError(
      'DATABASE_URL',
      'schema must be 1 to 63 lower-case letters, digits or _, not starting with a digit',
    );
  }
  parsed.searchParams.delete('schema');
  // Given back to the driver as written when there was no schema to take out.
  const connectionString = schema === undefined ? url : parsed.toString();
  if (parsed.password !== '') parsed.password = '***';
  if (schema !== undefined) parsed.searchParams.set('schema', schema);
  return { url: parsed.toString(), dialect: 'postgres', connectionString, schema };
}

/** A secret good only for a laptop; refused when NODE_ENV=production. */
export const DEVELOPMENT_JWT_SECRET = 'calldocker-development-secret-do-not-use-in-production';

type Env = Readonly<Record<string, string | undefined>>;

function int(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, `expected an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(name, `expected an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

function str(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

function list(env: Env, name: string): string[] {
  const raw = str(env, name);
  if (raw === undefined) return [];
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const item of items) {
    if (!/^(stuns?|turns?):/.test(item)) {
      throw new ConfigError(name, `"${item}" is not a stun:, stuns:, turn: or turns: URL`);
    }
  }
  return items;
}

function origins(name: string, raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const result: string[] = [];
  for (const item of raw.split(',').map((s) => s.trim())) {
    const parsed = parseOrigin(item);
    if (!parsed.ok) throw new ConfigError(name, `"${item}" is not a web origin: ${parsed.reason}`);
    if (!result.includes(parsed.origin)) result.push(parsed.origin);
  }
  return result;
}

function trustProxy(raw: string | undefined): boolean | number | string {
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  const items = raw.split(',').map((s) => s.trim());
  if (items.some((item) => !/^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(item))) {
    throw new ConfigError(
      'TRUST_PROXY',
      `expected true, false, a hop count or proxy addresses, got "${raw}"`,
    );
  }
  try {
    compileTrust(items.join(','));
  } catch (err) {
    throw new ConfigError('TRUST_PROXY', (err as Error).message);
  }
  return items.join(',');
}

/** The web host's timeouts; a headers timeout longer than the request's would never fire. */
function webTimeouts(env: Env) {
  const hour = 3_600_000;
  const requestTimeoutMs = int(env, 'WEB_REQUEST_TIMEOUT_MS', 30_000, 1000, hour);
  const headersTimeoutMs = int(env, 'WEB_HEADERS_TIMEOUT_MS', 10_000, 1000, hour);
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(
      'WEB_HEADERS_TIMEOUT_MS',
      `must not exceed WEB_REQUEST_TIMEOUT_MS (${requestTimeoutMs}), got ${headersTimeoutMs}`,
    );
  }
  return {
    requestTimeoutMs,
    headersTimeoutMs,
    keepAliveTimeoutMs: int(env, 'WEB_KEEP_ALIVE_TIMEOUT_MS', 72_000, 1000, hour),
    connectionTimeoutMs: int(env, 'WEB_CONNECTION_TIMEOUT_MS', 60_000, 1000, hour),
  };
}

/** Shortest `METRICS_TOKEN`: a guessable token would make the check decoration. */
export const MIN_METRICS_TOKEN_LENGTH = 16;

function metricsToken(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  // It travels as `Authorization: Bearer <token>`, which has no room for a space.
  if (/\s/.test(raw)) throw new ConfigError('METRICS_TOKEN', 'must not contain whitespace');
  if (raw.length < MIN_METRICS_TOKEN_LENGTH) {
    throw new ConfigError(
      'METRICS_TOKEN',
      `must be at least ${MIN_METRICS_TOKEN_LENGTH} characters`,
    );
  }
  return raw;
}

/** The signaling defaults, for tests and embedders; `overrides` replace single fields. */
export function signalingDefaults(overrides: Partial<SignalingConfig> = {}): SignalingConfig {
  return {
    host: '0.0.0.0',
    port: 8081,
    jwt: {
      secret: DEVELOPMENT_JWT_SECRET,
      publicKey: undefined,
      issuer: undefined,
      audience: undefined,
    },
    heartbeatIntervalMs: 25_000,
    maxMessageBytes: 65_536,
    rateLimitMsgsPerSec: 50,
    rateLimitBurst: 200,
    sendHighWaterBytes: 1_048_576,
    maxConnectionsPerUser: 5,
    trustProxy: false,
    maxVisitorConnectionsPerAddress: 20,
    callRequestsPerVisitorPerMin: 6,
    callRequestsPerAddressPerMin: 30,
    maxQueuedCallsPerCompany: 100,
    stunUrls: [],
    turnUrls: [],
    turnSecret: undefined,
    turnTtlS: 3600,
    missedRingsBeforeAway: 2,
    ringTimeoutMs: 30_000,
    queueTimeoutMs: 600_000,
    callReconnectGraceMs: 30_000,
    queueAnnounceMax: 20,
    shutdownTimeoutMs: 10_000,
    presenceTickMs: 50,
    listenBacklog: 4096,
    metricsToken: undefined,
    metricsLoopbackOnly: false,
    webOrigins: [],
    webPort: 3000,
    accessPollMs: 250,
    ...overrides,
  };
}

/**
 * Validates `env` and returns the configuration. Pure: pass any object in tests.
 * @throws ConfigError naming the first bad variable.
 */
export function loadConfig(env: Env): Config {
  const nodeEnv = str(env, 'NODE_ENV') ?? 'development';
  if (nodeEnv !== 'development' && nodeEnv !== 'production' && nodeEnv !== 'test') {
    throw new ConfigError('NODE_ENV', `expected development, production or test, got "${nodeEnv}"`);
  }
  const production = nodeEnv === 'production';

  let secret = str(env, 'JWT_SECRET');
  const publicKeyPath = str(env, 'JWT_PUBLIC_KEY');
  let publicKey: string | undefined;
  if (publicKeyPath !== undefined) {
    try {
      publicKey = readFileSync(publicKeyPath, 'utf8');
    } catch (err) {
      throw new ConfigError(
        'JWT_PUBLIC_KEY',
        `cannot read ${publicKeyPath}: ${(err as Error).message}`,
      );
    }
    if (!publicKey.includes('-----BEGIN')) {
      throw new ConfigError('JWT_PUBLIC_KEY', `${publicKeyPath} is not a PEM file`);
    }
    try {
      const type = createPublicKey(publicKey).asymmetricKeyType;
      if (type !== 'rsa' && type !== 'ec') throw new Error(`unsupported key type ${type}`);
    } catch (err) {
      throw new ConfigError(
        'JWT_PUBLIC_KEY',
        `${publicKeyPath} is not an RSA or EC public key: ${(err as Error).message}`,
      );
    }
  }
  if (secret === undefined && publicKey === undefined) {
    if (production) {
      throw new ConfigError('JWT_SECRET', 'required in production (or set JWT_PUBLIC_KEY)');
    }
    secret = DEVELOPMENT_JWT_SECRET;
  }
  if (secret !== undefined && production) {
    if (secret === DEVELOPMENT_JWT_SECRET) {
      throw new ConfigError('JWT_SECRET', 'the development secret may not be used in production');
    }
    if (secret.length < 32) {
      throw new ConfigError('JWT_SECRET', 'must be at least 32 characters in production');
    }
  }

  const turnUrls = list(env, 'TURN_URLS');
  const turnSecret = str(env, 'TURN_SECRET');
  if (turnUrls.length > 0 && turnSecret === undefined) {
    throw new ConfigError('TURN_SECRET', 'required when TURN_URLS is set');
  }

  const host = str(env, 'HOST') ?? '0.0.0.0';
  const webPort = int(env, 'WEB_PORT', 3000, 0, 65535);
  const signalingPort = int(env, 'SIGNALING_PORT', 8081, 0, 65535);
  const heartbeatIntervalMs = int(env, 'HEARTBEAT_INTERVAL_MS', 25_000, 1000, 3_600_000);
  const signaling: SignalingConfig = {
    host,
    port: signalingPort,
    jwt: { secret, publicKey, issuer: str(env, 'JWT_ISSUER'), audience: str(env, 'JWT_AUDIENCE') },
    heartbeatIntervalMs,
    maxMessageBytes: int(env, 'MAX_MESSAGE_BYTES', 65_536, 1024, 16 * 1024 * 1024),
    rateLimitMsgsPerSec: int(env, 'RATE_LIMIT_MSGS_PER_SEC', 50, 1, 1_000_000),
    rateLimitBurst: int(env, 'RATE_LIMIT_BURST', 200, 1, 1_000_000),
    sendHighWaterBytes: int(env, 'SEND_HIGH_WATER_BYTES', 1_048_576, 65_536, 1024 * 1024 * 1024),
    maxConnectionsPerUser: int(env, 'MAX_CONNECTIONS_PER_USER', 5, 1, 1000),
    trustProxy: trustProxy(str(env, 'TRUST_PROXY')),
    maxVisitorConnectionsPerAddress: int(env, 'MAX_VISITOR_CONNECTIONS_PER_ADDRESS', 20, 1, 1e6),
    callRequestsPerVisitorPerMin: int(env, 'CALL_REQUESTS_PER_VISITOR_PER_MIN', 6, 1, 1e6),
    callRequestsPerAddressPerMin: int(env, 'CALL_REQUESTS_PER_ADDRESS_PER_MIN', 30, 1, 1e6),
    maxQueuedCallsPerCompany: int(env, 'MAX_QUEUED_CALLS_PER_COMPANY', 100, 1, 1e6),
    stunUrls: list(env, 'STUN_URLS'),
    turnUrls,
    turnSecret,
    turnTtlS: int(env, 'TURN_TTL_S', 3600, 60, 7 * 24 * 3600),
    missedRingsBeforeAway: int(env, 'MISSED_RINGS_BEFORE_AWAY', 2, 0, 1000),
    ringTimeoutMs: int(env, 'RING_TIMEOUT_MS', 30_000, 100, 3_600_000),
    queueTimeoutMs: int(env, 'QUEUE_TIMEOUT_MS', 600_000, 100, 24 * 3_600_000),
    callReconnectGraceMs: int(env, 'CALL_RECONNECT_GRACE_MS', 30_000, 0, 3_600_000),
    queueAnnounceMax: int(env, 'QUEUE_ANNOUNCE_MAX', 20, 1, QUEUE_PAGE_MAX),
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 100, 60_000),
    presenceTickMs: int(env, 'PRESENCE_TICK_MS', 50, 0, 1000),
    listenBacklog: int(env, 'LISTEN_BACKLOG', 4096, 1, 65_535),
    metricsToken: metricsToken(str(env, 'METRICS_TOKEN')),
    metricsLoopbackOnly: production,
    webOrigins: origins('WEB_ORIGINS', str(env, 'WEB_ORIGINS')),
    webPort,
    accessPollMs: int(env, 'ACCESS_POLL_MS', signalingDefaults().accessPollMs, 10, 60_000),
  };

  const logLevel = str(env, 'LOG_LEVEL') ?? (nodeEnv === 'test' ? 'silent' : 'info');
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!levels.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `expected one of ${levels.join(', ')}, got "${logLevel}"`);
  }
  const signalingUrl = str(env, 'SIGNALING_URL') ?? '';
  if (signalingUrl !== '' && !/^wss?:\/\//.test(signalingUrl)) {
    throw new ConfigError('SIGNALING_URL', `expected a ws:// or wss:// URL, got "${signalingUrl}"`);
  }

  return Object.freeze({
    env: nodeEnv,
    logLevel,
    signaling: Object.freeze(signaling),
    web: Object.freeze({
      host,
      port: webPort,
      signalingUrl,
      visitorTokenTtlS: int(env, 'VISITOR_TOKEN_TTL_S', 900, 60, 24 * 3600),
      agentTokenTtlS: int(env, 'AGENT_TOKEN_TTL_S', 28_800, 300, 30 * 24 * 3600),
      serviceLevelS: int(env, 'SERVICE_LEVEL_S', 20, 1, 3600),
      trustProxy: trustProxy(str(env, 'TRUST_PROXY')),
      ...webTimeouts(env),
      hstsMaxAgeS: int(env, 'HSTS_MAX_AGE_S', 31_536_000, 0, 2 * 31_536_000),
    }),
    database: Object.freeze(parseDatabaseUrl(env['DATABASE_URL'])),
    redis: parseRedisConfig(env),
  });
}

/**
 * The process environment with `.env` (if present) underneath it: a variable set in the real
 * environment wins over the file, as dotenv does by default.
 */
export function readEnvironment(dotenvPath = '.env'): Env {
  let fromFile: Record<string, string> = {};
  try {
    fromFile = parseDotenv(readFileSync(dotenvPath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return { ...fromFile, ...process.env };
}
