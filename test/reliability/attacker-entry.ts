/**
 * An attacker in a process of its own, for the abuse scenarios: started by `server-process.ts`
 * with the attack as JSON in the environment, it reports over the IPC channel and exits when
 * the attack is done, when told to stop, when its parent goes away, or at its lifetime.
 *
 * - flood: each token is a client sending `ping` frames far faster than the rate limit allows,
 *   connecting again each time the server closes it, until stopped.
 * - bad-tokens: a fixed number of connection attempts, a bounded number at a time, each
 *   waiting for the server's close.
 * - crowd: visitors from several client addresses flooding the web host and the signaling
 *   server for a set time (see `crowd-attack.ts`).
 */
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { Crowd } from './crowd-attack.js';
import {
  ATTACK_ENV,
  isToAttacker,
  LIFETIME_ENV,
  type AttackReport,
  type AttackTask,
  type FromAttacker,
} from './server-process.js';

const send = process.send?.bind(process);
if (send === undefined) throw new Error('started by server-process.ts only: no IPC channel');
const reply = (message: FromAttacker) => {
  if (process.connected) send(message);
};

const task = JSON.parse(process.env[ATTACK_ENV] ?? 'null') as AttackTask | null;
if (task === null) throw new Error(`${ATTACK_ENV} is not set`);
const lifetimeMs = Number(process.env[LIFETIME_ENV] ?? 60_000);

/** Longest a bad-token attempt may wait for its close before it counts as a timeout. */
const ATTEMPT_TIMEOUT_MS = 10_000;
/** The flood is paced in ticks of this length, so its rate holds whatever the timers do. */
const FLOOD_TICK_MS = 10;

const startedAt = performance.now();
const closes: Record<string, number> = {};
let connections = 0;
let framesSent = 0;
let rateLimited = 0;
let errors = 0;
/** False once the attack is over. */
let running = true;
/** True while the parent holds the attack. */
let held = false;
let reported = false;
const sockets = new Set<WebSocket>();
/** The crowd, when that is the attack. */
let crowd: Crowd | undefined;
/** Wakes whoever waits for the sockets to be gone, or for the hold to end. */
let wake: (() => void) | undefined;

function countClose(code: number, reason: Buffer): void {
  const key = `${code} ${reason.toString()}`;
  closes[key] = (closes[key] ?? 0) + 1;
}

function finish(): void {
  if (reported) return;
  reported = true;
  running = false;
  for (const ws of sockets) ws.terminate();
  crowd?.stop();
  const report: AttackReport = {
    connections: connections + (crowd?.connections ?? 0),
    framesSent: framesSent + (crowd?.framesSent ?? 0),
    rateLimited: rateLimited + (crowd?.rateLimited ?? 0),
    closes: { ...closes, ...crowd?.closes },
    errors: errors + (crowd?.errors ?? 0),
    elapsedMs: performance.now() - startedAt,
    answers: { ...crowd?.answers },
    peakOpen: { ...crowd?.peakOpen },
  };
  reply({ type: 'report', report });
  // Let the report leave before the channel goes.
  setTimeout(() => process.exit(0), 100);
}

/** Resolves once every socket of the attack is closed. */
async function drained(): Promise<void> {
  while (sockets.size > 0) await new Promise<void>((resolve) => (wake = resolve));
}

function forget(ws: WebSocket): void {
  sockets.delete(ws);
  wake?.();
}

// ---------------------------------------------------------------------------------------------
// Flood
// ---------------------------------------------------------------------------------------------

/** Set when the flood (re)starts; the first client to connect reports it under way. */
let announce = false;

function announceStarted(): void {
  if (!announce) return;
  announce = false;
  reply({ type: 'started' });
}

/** One flooding client: connects, floods until closed, and starts over while not held. */
function flooder(url: string, token: string, framesPerSec: number): void {
  if (!running || held) return;
  const ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}`, {
    perMessageDeflate: false,
  });
  sockets.add(ws);
  connections++;
  let timer: NodeJS.Timeout | undefined;
  let due = 0;
  let seq = 0;
  ws.on('open', () => {
    announceStarted();
    const openedAt = performance.now();
    timer = setInterval(() => {
      // Catch up on what the timer's lateness cost, within reason.
      const target = Math.floor(((performance.now() - openedAt) * framesPerSec) / 1000);
      const burst = Math.min(target - due, framesPerSec);
      for (let i = 0; i < burst && ws.readyState === WebSocket.OPEN; i++) {
        ws.send(`{"type":"ping","id":"f${++seq}"}`);
        framesSent++;
      }
      due = target;
    }, FLOOD_TICK_MS);
  });
  ws.on('message', (data: Buffer) => {
    if (data.includes('"rate_limited"')) rateLimited++;
  });
  ws.on('error', () => errors++);
  ws.on('close', (code, reason) => {
    clearInterval(timer);
    forget(ws);
    // Closes of our own making (a hold, the end) are not the server's answer.
    if (!running || held) return;
    countClose(code, reason);
    setImmediate(() => flooder(url, token, framesPerSec));
  });
}

function startFlood(attack: Extract<AttackTask, { kind: 'flood' }>): void {
  announce = true;
  for (const token of attack.tokens) flooder(attack.url, token, attack.framesPerSec);
}

// ---------------------------------------------------------------------------------------------
// Bad tokens
// ---------------------------------------------------------------------------------------------

/** One bad-token attempt: resolves once the server closed it (or it timed out). */
function attempt(url: string, token: string | null): Promise<void> {
  return new Promise((resolve) => {
    const target = token === null ? url : `${url}?token=${encodeURIComponent(token)}`;
    const ws = new WebSocket(target, { perMessageDeflate: false });
    sockets.add(ws);
    connections++;
    const timer = setTimeout(() => {
      closes['timeout'] = (closes['timeout'] ?? 0) + 1;
      ws.terminate();
    }, ATTEMPT_TIMEOUT_MS);
    ws.on('error', () => errors++);
    ws.on('close', (code, reason) => {
      clearTimeout(timer);
      forget(ws);
      if (running) countClose(code, reason);
      resolve();
    });
  });
}

async function badTokens(attack: Extract<AttackTask, { kind: 'bad-tokens' }>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (running && next < attack.attempts) {
      if (held) {
        await new Promise<void>((resolve) => resumers.push(resolve));
        continue;
      }
      const token = attack.tokens[next++ % attack.tokens.length]!;
      await attempt(attack.url, token);
    }
  };
  reply({ type: 'started' });
  await Promise.all(Array.from({ length: attack.concurrency }, worker));
  finish();
}

/** Workers waiting for the hold to end. */
const resumers: Array<() => void> = [];

// ---------------------------------------------------------------------------------------------
// Control
// ---------------------------------------------------------------------------------------------

process.on('message', (message: unknown) => {
  if (!isToAttacker(message) || task === null) return;
  switch (message.type) {
    case 'stop':
      finish();
      break;
    case 'pause':
      // A crowd runs for its set time and is never held: the flood scenario has no quiet windows.
      if (task.kind === 'crowd') throw new Error('a crowd cannot be paused');
      held = true;
      if (task.kind === 'flood') for (const ws of sockets) ws.terminate();
      void drained().then(() => reply({ type: 'paused' }));
      break;
    case 'resume':
      if (!held) break;
      held = false;
      if (task.kind === 'flood') startFlood(task);
      else {
        for (const resume of resumers.splice(0)) resume();
        reply({ type: 'started' });
      }
      break;
    default: {
      const unreachable: never = message;
      throw new Error(`unknown request ${JSON.stringify(unreachable)}`);
    }
  }
});
process.on('disconnect', () => process.exit(0));
// Report a little before the parent's deadline, so it gets figures rather than a timeout.
setTimeout(finish, Math.max(0, lifetimeMs - 2000)).unref();

switch (task.kind) {
  case 'flood':
    startFlood(task);
    break;
  case 'bad-tokens':
    await badTokens(task);
    break;
  case 'crowd':
    crowd = new Crowd(task);
    await crowd.run(() => reply({ type: 'started' }));
    finish();
    break;
  default: {
    const unreachable: never = task;
    throw new Error(`unknown attack ${JSON.stringify(unreachable)}`);
  }
}
