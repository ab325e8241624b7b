/**
 * The environment of a product process a test spawns. CI sets `REDIS_URL` and `DATABASE_URL` for
 * the suites that test the cluster and PostgreSQL; a spawned server must not pick them up and
 * quietly join a shared Redis or database that other suites use at the same moment. It gets its
 * own, or the embedded defaults, unless the test says otherwise.
 */

/** Variables that would put a spawned process on services other tests share. */
export const SHARED_SERVICE_VARIABLES = ['REDIS_URL', 'REDIS_PREFIX', 'NODE_ID', 'DATABASE_URL'];

/** `env` without {@link SHARED_SERVICE_VARIABLES}. */
export function isolatedEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const name of SHARED_SERVICE_VARIABLES) delete out[name];
  return out;
}
