/**
 * The History and Today tabs' data: `GET /api/calls` in cursor pages, `GET /api/calls/stats`
 * from local midnight, both read again when the server says a call finished (`call_finished`,
 * sent once the call's row is committed), never on a timer; and the CSV export of the filters.
 */
import { fromDateInput, localMidnight } from './format.js';
import { authedApi, endSession, freshToken, refusedNotice } from './session.js';
import {
  auth,
  history,
  historyFilters,
  today,
  type CallRow,
  type CallStatsBody,
  type HistoryFilters,
} from './store.js';
import { strings } from './strings.js';

const PAGE_SIZE = 50;

/** The query of the current filters (an agent sees its own calls; the API enforces it too). */
function filterQuery(f: HistoryFilters): URLSearchParams {
  const q = new URLSearchParams();
  const from = fromDateInput(f.from);
  const to = fromDateInput(f.to, 1);
  if (from !== undefined) q.set('from', from.toISOString());
  if (to !== undefined) q.set('to', to.toISOString());
  if (f.state !== '') q.set('state', f.state);
  if (auth.value?.agent.role === 'admin' && f.agentId !== '') q.set('agentId', f.agentId);
  return q;
}

interface CallsPage {
  calls: CallRow[];
  nextCursor: string | null;
}

let generation = 0;

/** Loads the first page of the current filters (`more`: the next page after the loaded ones). */
export async function loadHistory(more = false): Promise<void> {
  const mine = ++generation;
  const q = filterQuery(historyFilters.value);
  q.set('limit', String(PAGE_SIZE));
  const cursor = history.value.nextCursor;
  if (more && cursor !== null) q.set('cursor', cursor);
  history.value = { ...history.value, loading: true, error: undefined };
  try {
    const page = await authedApi<CallsPage>(`/api/calls?${q}`);
    if (mine !== generation) return;
    history.value = {
      rows: more ? [...history.value.rows, ...page.calls] : page.calls,
      nextCursor: page.nextCursor,
      loading: false,
      loaded: true,
      error: undefined,
    };
  } catch {
    if (mine !== generation) return;
    history.value = { ...history.value, loading: false, error: strings.historyFailed };
  }
}

/** Newest calls merged in on top, rows already shown updated in place; pages stay as they are. */
async function mergeNewest(): Promise<void> {
  const q = filterQuery(historyFilters.value);
  q.set('limit', String(PAGE_SIZE));
  try {
    const page = await authedApi<CallsPage>(`/api/calls?${q}`);
    const fresh = new Map(page.calls.map((row) => [row.id, row]));
    const shown = history.value.rows;
    const known = new Set(shown.map((row) => row.id));
    const added = page.calls.filter((row) => !known.has(row.id));
    history.value = {
      ...history.value,
      rows: [...added, ...shown.map((row) => fresh.get(row.id) ?? row)],
      nextCursor: history.value.loaded ? history.value.nextCursor : page.nextCursor,
    };
  } catch {
    // The next load shows it; a failed background refresh is not worth an alarm.
  }
}

/** Today's figures, from local midnight to now. */
export async function loadToday(): Promise<void> {
  today.value = { ...today.value, loading: true, error: undefined };
  const q = new URLSearchParams({
    from: localMidnight().toISOString(),
    to: new Date().toISOString(),
  });
  try {
    const stats = await authedApi<CallStatsBody>(`/api/calls/stats?${q}`);
    today.value = { stats, loading: false, error: undefined };
  } catch {
    today.value = { ...today.value, loading: false, error: strings.todayFailed };
  }
}

/** A call reached a final state: the tabs that were read are read again. */
export function refreshAfterCall(): void {
  if (history.value.loaded) void mergeNewest();
  if (today.value.stats !== undefined || today.value.loading) void loadToday();
}

/** Forgets everything (log out). */
export function resetCallLog(): void {
  generation++;
  history.value = { rows: [], nextCursor: null, loading: false, loaded: false, error: undefined };
  historyFilters.value = { from: '', to: '', state: '', agentId: '' };
  today.value = { stats: undefined, loading: false, error: undefined };
}

function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Downloads every call of the current filters as CSV from `GET /api/calls/export.csv` (with the
 * bearer token, so not a plain link). Resolves false when the download failed.
 */
export async function exportCsv(): Promise<boolean> {
  const q = filterQuery(historyFilters.value);
  const name = `calls-${new Date().toISOString().slice(0, 10)}.csv`;
  const get = (token: string) =>
    fetch(`/api/calls/export.csv?${q}`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/csv' },
      cache: 'no-store',
    });
  /** The API's error code of a refused answer ('' when its body says none). */
  const codeOf = async (res: Response) => {
    const body = (await res.json().catch(() => ({}))) as { error?: unknown };
    return typeof body.error === 'string' ? body.error : '';
  };
  try {
    let res = await get(await freshToken());
    let code = res.status === 401 ? await codeOf(res) : '';
    // Renewed once if it can be (a changed role), as authedApi does; refused, the session ends.
    if (code === 'token_revoked') {
      res = await get(await freshToken(0, true));
      code = res.status === 401 ? await codeOf(res) : '';
    }
    if (res.status === 401) endSession(refusedNotice(code));
    if (!res.ok) return false;
    download(await res.blob(), name);
    return true;
  } catch {
    return false;
  }
}
