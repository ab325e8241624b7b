/**
 * What both entries (`server/index.ts`, `web/index.ts`) do around their server: read the
 * configuration or exit naming the bad variable, and shut down once on SIGTERM/SIGINT within a
 * bounded time. Importing it has no side effects; the entries call it.
 */
import { pino, type Logger } from 'pino';
import { ConfigError, loadConfig, readEnvironment, type Config } from './config.js';

/** The validated configuration and a logger at its level; exits 1 on a bad value. */
export function bootConfig(name: string): { config: Config; log: Logger } {
  try {
    const config = loadConfig(readEnvironment());
    return { config, log: pino({ name, level: config.logLevel }) };
  } catch (err) {
    if (err instanceof ConfigError) {
      pino({ name }).fatal({ variable: err.variable }, err.message);
      process.exit(1);
    }
    throw err;
  }
}

/**
 * Runs `stop` on the first SIGTERM or SIGINT and exits 0 when it resolves (1 if it fails);
 * whatever happens, the process is gone within `timeoutMs` plus a margin.
 */
export function stopOnSignals(log: Logger, timeoutMs: number, stop: () => Promise<unknown>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    setTimeout(() => process.exit(1), timeoutMs + 500).unref();
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
