/**
 * The web host's REST API as the pages call it: JSON in, JSON out, and every failure an
 * {@link ApiError} with the API's stable error code (docs/API.md), so a page switches on the
 * code to choose its message.
 */

/** A failed API call. `code` is the API's `error` field, or `network` / `bad_response`. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Options of {@link api}. */
export interface ApiOptions {
  readonly method?: 'GET' | 'POST';
  readonly body?: unknown;
  /** A bearer token. */
  readonly token?: string;
  readonly signal?: AbortSignal;
}

/** Calls the API at `path` (same origin) and resolves with the parsed JSON body. */
export async function api<T>(path: string, options: ApiOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  let res: Response;
  try {
    res = await fetch(path, {
      method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
      headers,
      body: options.body === undefined ? null : JSON.stringify(options.body),
      cache: 'no-store',
      signal: options.signal ?? null,
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError('network', 0, 'The server cannot be reached.');
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    throw new ApiError('bad_response', res.status, `Unexpected answer (HTTP ${res.status}).`);
  }
  if (!res.ok) {
    const { error, message } = (body ?? {}) as { error?: unknown; message?: unknown };
    throw new ApiError(
      typeof error === 'string' ? error : 'bad_response',
      res.status,
      typeof message === 'string' ? message : `HTTP ${res.status}`,
    );
  }
  return body as T;
}
