/**
 * The queue as the dashboard shows it: the oldest callers `queue_updated` announces (the server
 * sends at most its `QUEUE_ANNOUNCE_MAX` of them, with the total), and the further callers the
 * agent opened with "Show more", read with `queue_list`. Those pages are snapshots, so they are
 * read again at every change: an opened list never shows a caller who has gone.
 */
import { QUEUE_PAGE_MAX, type QueueEntry, type WebSocketClient } from '@calldocker/client';
import {
  announce,
  client,
  lostRaces,
  queue,
  queueLoading,
  queueMore,
  queueTotal,
} from './store.js';
import { strings } from './strings.js';

/** How many callers past the announced ones the agent asked to see. */
let wanted = 0;
/** Bumped at every read, so an older read that answers late never overwrites a newer one. */
let generation = 0;

/** Reads `count` entries from `offset` on, a page of at most {@link QUEUE_PAGE_MAX} at a time. */
async function read(c: WebSocketClient, offset: number, count: number): Promise<QueueEntry[]> {
  const entries: QueueEntry[] = [];
  while (entries.length < count) {
    const page = await c.listQueue({
      offset: offset + entries.length,
      limit: Math.min(QUEUE_PAGE_MAX, count - entries.length),
    });
    entries.push(...page.calls);
    if (page.calls.length === 0 || offset + entries.length >= page.total) break;
  }
  return entries;
}

/** Reads the callers past the announced ones, as many as the agent asked to see. */
async function readMore(c: WebSocketClient): Promise<void> {
  const mine = ++generation;
  queueLoading.value = true;
  try {
    const entries = await read(c, queue.value.length, wanted);
    if (mine === generation) queueMore.value = entries;
  } catch {
    if (mine === generation) announce(strings.moreFailed);
  } finally {
    if (mine === generation) queueLoading.value = false;
  }
}

/** A `queue_updated` arrived: the announced callers, the total, and the opened pages again. */
export function queueUpdated(
  c: WebSocketClient,
  calls: readonly QueueEntry[],
  total: number,
): void {
  queue.value = calls;
  queueTotal.value = total;
  if (total <= calls.length) {
    // Everyone is announced: nothing left to open, and a list that grows again starts closed.
    wanted = 0;
    generation++;
    queueMore.value = [];
    queueLoading.value = false;
  } else if (wanted > 0) {
    void readMore(c);
  }
  const known = new Set([...calls, ...queueMore.value].map((entry) => entry.callId));
  if ([...lostRaces.value].some((id) => !known.has(id))) {
    lostRaces.value = new Set([...lostRaces.value].filter((id) => known.has(id)));
  }
}

/**
 * "Show more": one more page of callers. A page is as long as the announcement, which is the
 * server's `QUEUE_ANNOUNCE_MAX` whenever there is more to show.
 */
export async function showMore(): Promise<void> {
  const c = client.value;
  if (c === undefined) return;
  wanted += Math.min(QUEUE_PAGE_MAX, Math.max(1, queue.value.length));
  await readMore(c);
}

/** Forgets the queue (logged out). */
export function resetQueue(): void {
  wanted = 0;
  generation++;
  queue.value = [];
  queueTotal.value = 0;
  queueMore.value = [];
  queueLoading.value = false;
}
