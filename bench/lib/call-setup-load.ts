/**
 * The call-setup load: each loop's visitor rings its own agent and the two go through a whole
 * call, then the next call starts. One call:
 *
 *   visitor: call_request {agentId}      -> agent: call_incoming
 *   agent:   call_accept                 -> both:  call_started
 *   visitor: webrtc_offer, 10 candidates -> agent: webrtc_offer, then 10 ice_candidate
 *   agent:   webrtc_answer, 10 candidates-> visitor: webrtc_answer (set-up done), 10 candidates
 *   visitor: call_ended                  -> both:  call_ended (the call is complete)
 *
 * as a browser client sends them (ids on the call messages, relays fire and forget). The
 * loops run flat out (closed loop: the next call starts when one completes) to find the
 * throughput, or paced to a total rate, each loop on its own evenly spread schedule, to measure
 * set-up latency below saturation.
 *
 * The generator must stay cheap next to the server: a frame's type is read from its first
 * bytes (the server always writes `type` first), the call id is cut out of the two frames that
 * carry a new one, and nothing else is parsed. Frames of one socket arrive in the order the
 * server sent them, which the checks below rely on (e.g. all 10 of the visitor's candidates
 * reach the agent before the `call_ended` the visitor sent after them).
 */
import { performance } from 'node:perf_hooks';
import type { CallPair } from './call-setup-clients.js';
import { iceCandidateFrame } from './relay-targets.js';
import { Samples } from './stats.js';

/** Candidates each side sends per call. */
export const CANDIDATES_PER_SIDE = 10;

/**
 * A typical browser's audio-only offer (one Opus m-line, ICE and DTLS attributes); the answer
 * is the same size. Relayed as is: the server never reads SDP bodies.
 */
const OFFER_SDP = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=extmap-allow-mixed',
  'a=msid-semantic: WMS stream',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
  'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=ice-ufrag:abcd',
  'a=ice-pwd:0123456789abcdefghijklmn',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 8B:87:09:8A:5D:C2:F3:33:EF:C5:B1:F6:84:3A:3D:D6:A3:E2:9C:17:4C:E7:' +
    '46:3B:1B:CE:84:98:DD:8E:AF:7B',
  'a=setup:actpass',
  'a=mid:0',
  'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=sendrecv',
  'a=msid:stream track',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=rtcp-fb:111 transport-cc',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:63 red/48000/2',
  'a=fmtp:63 111/111',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:13 CN/8000',
  'a=rtpmap:110 telephone-event/48000',
  'a=rtpmap:126 telephone-event/8000',
  'a=ssrc:1001 cname:benchbenchbench0',
  'a=ssrc:1001 msid:stream track',
  '',
].join('\r\n');

const OFFER_JSON = JSON.stringify({ type: 'offer', sdp: OFFER_SDP });
const ANSWER_JSON = JSON.stringify({ type: 'answer', sdp: OFFER_SDP.replace('actpass', 'active') });

/** Bytes of the offer (and answer) frames, for the report. */
export const SDP_FRAME_BYTES = Buffer.byteLength(
  `{"type":"webrtc_offer","callId":"00000000-0000-0000-0000-000000000000","offer":${OFFER_JSON}}`,
);

/** Every frame the server sends starts with this; the type follows, up to the next quote. */
const TYPE_PREFIX = Buffer.from('{"type":"');
const QUOTE = 0x22;
const CALL_ID_KEY = Buffer.from('"callId":"');

/** The frame's `type`, read from its first bytes (undefined when it does not start as usual). */
function typeOf(data: Buffer): string | undefined {
  if (data.length < TYPE_PREFIX.length || data.compare(TYPE_PREFIX, 0, 9, 0, 9) !== 0) {
    return undefined;
  }
  const end = data.indexOf(QUOTE, TYPE_PREFIX.length);
  return end < 0 ? undefined : data.toString('latin1', TYPE_PREFIX.length, end);
}

/** The frame's `callId` (undefined when it has none). */
function callIdOf(data: Buffer): string | undefined {
  const at = data.indexOf(CALL_ID_KEY);
  if (at < 0) return undefined;
  const start = at + CALL_ID_KEY.length;
  const end = data.indexOf(QUOTE, start);
  return end < 0 ? undefined : data.toString('latin1', start, end);
}

/** Counters of the whole run so far; a window's figures are the difference of two. */
export interface LoadSnapshot {
  /** When it was taken (`performance.now()`). */
  readonly at: number;
  /** Calls completed (both sides saw `call_ended`). */
  readonly calls: number;
  /** `agent_status_changed` frames received by all clients. */
  readonly statusFrames: number;
  /** Every frame received by all clients. */
  readonly frames: number;
}

/** Where a loop's current call is, for the stall report. */
type Step = 'idle' | 'waiting' | 'ringing' | 'started' | 'answered' | 'ending';

/** One visitor/agent pair calling over and over. */
class CallLoop {
  step: Step = 'idle';
  callId = '';
  requestedAt = 0;
  visitorCandidates = 0;
  agentCandidates = 0;
  visitorEnded = false;
  agentEnded = false;
  /** Calls this loop has requested (names the call messages' ids). */
  count = 0;
  /** Paced: when the next call is due. */
  nextAt = 0;
  timer: NodeJS.Timeout | undefined;

  constructor(readonly pair: CallPair) {}
}

type Mode = { kind: 'closed' } | { kind: 'paced'; periodMs: number } | { kind: 'stopped' };

/** No call completing for this long while calls are under way fails the run. */
const STALL_MS = 10_000;

/**
 * Runs the call loops over `pairs` (which it owns from here on). Start with
 * {@link CallLoad.runFlatOut} or {@link CallLoad.pace}, read {@link CallLoad.snapshot}s, and
 * finish with {@link CallLoad.stop}.
 */
export class CallLoad {
  private readonly loops: CallLoop[];
  private mode: Mode = { kind: 'stopped' };
  private calls = 0;
  private statusFrames = 0;
  private frames = 0;
  private failure: Error | undefined;
  /** Set-up latencies of calls requested from `latencyFrom` until `latencyUntil`. */
  private readonly latency = new Samples();
  private latencyFrom = Number.POSITIVE_INFINITY;
  private latencyUntil = Number.POSITIVE_INFINITY;
  private idleWaiter: (() => void) | undefined;
  private readonly watchdog: NodeJS.Timeout;
  private lastCalls = -1;
  private lastProgressAt = performance.now();

  constructor(pairs: readonly CallPair[]) {
    this.loops = pairs.map((pair) => new CallLoop(pair));
    for (const loop of this.loops) this.listen(loop);
    this.watchdog = setInterval(() => this.checkProgress(), 1000);
  }

  /** The first failure (an error frame, a closed socket, a protocol surprise, a stall). */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Every loop calls flat out: the next call starts as soon as one completes. */
  runFlatOut(): void {
    this.mode = { kind: 'closed' };
    for (const loop of this.loops) if (loop.step === 'idle') this.request(loop);
  }

  /**
   * Paces the loops to `ratePerSec` calls per second in all: each loop calls once per period,
   * the loops' schedules evenly staggered. A loop whose call overruns its slot starts the next
   * at once and keeps its period from there (no catch-up burst).
   */
  pace(ratePerSec: number): void {
    const periodMs = (1000 * this.loops.length) / ratePerSec;
    this.mode = { kind: 'paced', periodMs };
    const now = performance.now();
    this.loops.forEach((loop, i) => {
      loop.nextAt = now + (periodMs * i) / this.loops.length;
      if (loop.step === 'idle') this.schedule(loop);
    });
  }

  /** Records the set-up latency of calls requested from now on. */
  startLatency(): void {
    this.latencyFrom = performance.now();
    this.latencyUntil = Number.POSITIVE_INFINITY;
  }

  /** Stops recording: calls requested from now on are not sampled (those under way still are). */
  stopLatency(): void {
    this.latencyUntil = performance.now();
  }

  /** Set-up latencies recorded, in milliseconds (complete once {@link stop} resolved). */
  get latencyMs(): Samples {
    return this.latency;
  }

  snapshot(): LoadSnapshot {
    return {
      at: performance.now(),
      calls: this.calls,
      statusFrames: this.statusFrames,
      frames: this.frames,
    };
  }

  /**
   * Starts no new call, lets the calls under way complete, and resolves once all have.
   * @throws Error on any failure, or when calls are still under way after `timeoutMs`.
   */
  async stop(timeoutMs = STALL_MS): Promise<void> {
    this.mode = { kind: 'stopped' };
    for (const loop of this.loops) {
      if (loop.timer !== undefined) clearTimeout(loop.timer);
      loop.timer = undefined;
      if (loop.step === 'waiting') loop.step = 'idle';
    }
    try {
      if (this.failure === undefined && !this.allIdle()) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            this.fail(new Error(`calls still under way ${timeoutMs} ms after the load stopped`));
          }, timeoutMs);
          this.idleWaiter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      clearInterval(this.watchdog);
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /** Closes every socket. */
  close(): void {
    clearInterval(this.watchdog);
    for (const loop of this.loops) {
      if (loop.timer !== undefined) clearTimeout(loop.timer);
      loop.pair.visitor.terminate();
      loop.pair.agent.terminate();
    }
  }

  private allIdle(): boolean {
    return this.loops.every((loop) => loop.step === 'idle');
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.mode = { kind: 'stopped' };
    this.idleWaiter?.();
  }

  private checkProgress(): void {
    const now = performance.now();
    if (this.calls !== this.lastCalls || this.allIdle()) {
      this.lastCalls = this.calls;
      this.lastProgressAt = now;
      return;
    }
    if (now - this.lastProgressAt < STALL_MS) return;
    const steps = new Map<Step, number>();
    for (const loop of this.loops) steps.set(loop.step, (steps.get(loop.step) ?? 0) + 1);
    const where = [...steps].map(([step, n]) => `${n} ${step}`).join(', ');
    this.fail(new Error(`no call completed in ${STALL_MS / 1000} s (loops: ${where})`));
  }

  private request(loop: CallLoop): void {
    loop.timer = undefined;
    loop.step = 'ringing';
    loop.callId = '';
    loop.visitorCandidates = 0;
    loop.agentCandidates = 0;
    loop.visitorEnded = false;
    loop.agentEnded = false;
    loop.count++;
    loop.requestedAt = performance.now();
    loop.pair.visitor.send(
      `{"type":"call_request","id":"r${loop.count}","callType":"audio",` +
        `"agentId":"${loop.pair.agentId}"}`,
    );
  }

  /** Paced: waits for the loop's next slot (or starts at once when it is overdue). */
  private schedule(loop: CallLoop): void {
    if (this.mode.kind !== 'paced') return;
    const now = performance.now();
    const dueAt = loop.nextAt;
    loop.nextAt = Math.max(dueAt, now) + this.mode.periodMs;
    if (dueAt <= now) {
      this.request(loop);
    } else {
      loop.step = 'waiting';
      loop.timer = setTimeout(() => this.request(loop), dueAt - now);
    }
  }

  private completed(loop: CallLoop): void {
    this.calls++;
    loop.step = 'idle';
    switch (this.mode.kind) {
      case 'closed':
        this.request(loop);
        break;
      case 'paced':
        this.schedule(loop);
        break;
      case 'stopped':
        if (this.allIdle()) this.idleWaiter?.();
        break;
      default: {
        const unreachable: never = this.mode;
        throw new Error(`unknown mode ${JSON.stringify(unreachable)}`);
      }
    }
  }

  private listen(loop: CallLoop): void {
    const { visitor, agent } = loop.pair;
    const onClose = (who: string) => (code: number) => {
      this.fail(new Error(`loop ${loop.pair.index}: the ${who} was disconnected (code ${code})`));
    };
    visitor.on('close', onClose('visitor'));
    agent.on('close', onClose('agent'));
    visitor.on('message', (data: Buffer) => this.visitorOnMessage(loop, data));
    agent.on('message', (data: Buffer) => this.agentOnMessage(loop, data));
  }

  private surprise(loop: CallLoop, who: string, data: Buffer, why: string): void {
    const frame = data.toString('utf8', 0, Math.min(data.length, 300));
    this.fail(new Error(`loop ${loop.pair.index}: ${who} got ${why}: ${frame}`));
  }

  private visitorOnMessage(loop: CallLoop, data: Buffer): void {
    this.frames++;
    const type = typeOf(data);
    switch (type) {
      case 'ice_candidate':
        if (loop.step !== 'answered') return this.surprise(loop, 'visitor', data, 'a candidate');
        if (++loop.visitorCandidates === CANDIDATES_PER_SIDE) {
          loop.step = 'ending';
          loop.pair.visitor.send(
            `{"type":"call_ended","id":"e${loop.count}","callId":"${loop.callId}"}`,
          );
        }
        return;
      case 'agent_status_changed':
        this.statusFrames++;
        return;
      case 'call_started': {
        const callId = callIdOf(data);
        if (loop.step !== 'ringing' || callId === undefined) {
          return this.surprise(loop, 'visitor', data, 'an unexpected call_started');
        }
        loop.callId = callId;
        loop.step = 'started';
        const { visitor } = loop.pair;
        visitor.send(`{"type":"webrtc_offer","callId":"${callId}","offer":${OFFER_JSON}}`);
        const candidate = iceCandidateFrame(callId);
        for (let i = 0; i < CANDIDATES_PER_SIDE; i++) visitor.send(candidate, { binary: false });
        return;
      }
      case 'webrtc_answer': {
        if (loop.step !== 'started') return this.surprise(loop, 'visitor', data, 'an answer');
        loop.step = 'answered';
        const now = performance.now();
        if (loop.requestedAt >= this.latencyFrom && loop.requestedAt < this.latencyUntil) {
          this.latency.push(now - loop.requestedAt);
        }
        return;
      }
      case 'call_ended':
        if (loop.step !== 'ending') return this.surprise(loop, 'visitor', data, 'an early end');
        loop.visitorEnded = true;
        if (loop.agentEnded) this.completed(loop);
        return;
      case 'error':
      case undefined:
        return this.surprise(loop, 'visitor', data, 'a failure');
      default:
        // acks, the agent list, queue updates: nothing to do.
        return;
    }
  }

  private agentOnMessage(loop: CallLoop, data: Buffer): void {
    this.frames++;
    const type = typeOf(data);
    switch (type) {
      case 'ice_candidate':
        loop.agentCandidates++;
        return;
      case 'agent_status_changed':
        this.statusFrames++;
        return;
      case 'call_incoming': {
        const callId = callIdOf(data);
        if (loop.step !== 'ringing' || callId === undefined) {
          return this.surprise(loop, 'agent', data, 'an unexpected ring');
        }
        loop.pair.agent.send(`{"type":"call_accept","id":"a${loop.count}","callId":"${callId}"}`);
        return;
      }
      case 'webrtc_offer': {
        const callId = callIdOf(data);
        if (callId === undefined) return this.surprise(loop, 'agent', data, 'an offer');
        const { agent } = loop.pair;
        agent.send(`{"type":"webrtc_answer","callId":"${callId}","answer":${ANSWER_JSON}}`);
        const candidate = iceCandidateFrame(callId);
        for (let i = 0; i < CANDIDATES_PER_SIDE; i++) agent.send(candidate, { binary: false });
        return;
      }
      case 'call_ended':
        if (loop.agentCandidates !== CANDIDATES_PER_SIDE) {
          return this.surprise(loop, 'agent', data, `${loop.agentCandidates} candidates, then`);
        }
        loop.agentEnded = true;
        if (loop.visitorEnded) this.completed(loop);
        return;
      case 'error':
      case undefined:
        return this.surprise(loop, 'agent', data, 'a failure');
      default:
        // acks, call_started, queue updates: nothing to do.
        return;
    }
  }
}
