/**
 * What survives a page refresh in this tab (sessionStorage: a new tab starts afresh): the
 * visitor's token, and the call in progress with the role and answer time the resumed view
 * needs. Keyed by company, since several companies' pages share one origin.
 */
import type { CallType } from '@calldocker/client';

/** The stored record. */
export interface Saved {
  token?: string | undefined;
  /** The name the token carries, to know when a new one is needed. */
  tokenName?: string | undefined;
  callId?: string | undefined;
  callType?: CallType | undefined;
  role?: 'caller' | 'callee' | undefined;
  /** When the call was answered (ms since the epoch); absent while it waits. */
  answeredAt?: number | undefined;
  peerName?: string | undefined;
  /** The agent a direct call rings, for "Ringing <name>…" after a refresh. */
  agentName?: string | undefined;
  /** What the visitor last said the call was about, for the form after a refresh. */
  purpose?: string | undefined;
}

let key = 'calldocker.visitor';

/** Scopes the record to one company. */
export function persistFor(companyId: string): void {
  key = `calldocker.visitor.${companyId}`;
}

/** The stored record (empty when there is none, or storage is blocked). */
export function load(): Saved {
  try {
    const text = sessionStorage.getItem(key);
    const value: unknown = text === null ? {} : JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Saved) : {};
  } catch {
    return {};
  }
}

/** Merges `patch` into the stored record. */
export function save(patch: Saved): void {
  try {
    sessionStorage.setItem(key, JSON.stringify({ ...load(), ...patch }));
  } catch {
    // Storage blocked (private mode, a sandboxed frame): the call works, a refresh loses it.
  }
}

/** Forgets the call, keeping the token. */
export function forgetCall(): void {
  save({
    callId: undefined,
    callType: undefined,
    role: undefined,
    answeredAt: undefined,
    peerName: undefined,
    agentName: undefined,
  });
}
