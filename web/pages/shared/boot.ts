/** Reads what the host wrote into the page (see `boot-data.ts`) and where to connect. */
import type { PageBootData, SignalingLocation } from './boot-data.js';

/** The page's boot data, or throws when the host wrote none (a page opened from a file). */
export function readBoot<P extends PageBootData['page']>(
  page: P,
): Extract<PageBootData, { page: P }> {
  const text = document.getElementById('calldocker-boot')?.textContent;
  if (text === undefined || text === null || text === '') {
    throw new Error('this page must be served by the CallDocker web host');
  }
  const data = JSON.parse(text) as PageBootData;
  if (data.page !== page) throw new Error(`boot data is for the ${data.page} page`);
  return data as Extract<PageBootData, { page: P }>;
}

/** The signaling URL: the configured one, else this page's hostname and the port. */
export function signalingUrlOf(where: SignalingLocation): string {
  if (where.signalingUrl !== '') return where.signalingUrl;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.hostname}:${where.signalingPort}/`;
}
