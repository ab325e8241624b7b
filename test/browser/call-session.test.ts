/**
 * CallSession in a real Chromium: two pages that load only the built library
 * (dist/client-lib/calldocker.js, rebuilt first) make a call through the real signaling server
 * with fake camera and microphone; video frames decoded are read from getStats() on both sides.
 *
 * Chromium is Debian's package (`chromium` on PATH, or CHROMIUM_PATH). When it is missing
 * this file says loudly that it skipped and how to run it; under CI it fails (CI installs it).
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import t from 'tap';
import { CHROMIUM_ARGS, chromiumOrSkip, GRANT_ARGS } from '../e2e/harness.js';
import { buildServer, delay, signToken } from '../helpers.js';
import { serveCallPage } from './call-page-server.js';

/** A tap subtest. */
type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

/** Bound of each test (each takes about 2 s here). */
const TEST_TIMEOUT_MS = 60_000;
/** How long one condition may take to come true (media setup on a loaded 2-core machine). */
const WAIT_MS = 20_000;
/** What the test page keeps on `window` (see pages/call-page.js). */
interface PageState {
  events: Array<{ type: string; at: number; [field: string]: unknown }>;
  session:
    | {
        pc: RTCPeerConnection;
        setAudioEnabled(on: boolean): void;
        setVideoEnabled(on: boolean): void;
        setScreenShare(on: boolean, track?: MediaStreamTrack): Promise<void>;
        restartIce(): void;
        stats(): Promise<{ framesDecoded: number; rttMs?: number }>;
      }
    | undefined;
  sessions: number;
  startError: { name: string; reason: string } | undefined;
  remoteMediaState: { audio: boolean; video: boolean; screen: boolean } | undefined;
  hold(on: boolean): void;
  video(): Promise<{ framesDecoded: number; frameWidth: number; frameHeight: number }>;
}
declare global {
  interface Window {
    __calldocker: PageState | undefined;
    /** The peer connection a test remembered, to tell whether it was replaced. */
    __pcBefore: RTCPeerConnection | undefined;
  }
}

/** One side of the call: a page in its own browser context (its own storage and permissions). */
class CallPage {
  /** Uncaught errors on the page, across reloads. */
  readonly errors: string[] = [];

  private constructor(
    readonly who: 'agent' | 'visitor',
    readonly page: Page,
  ) {
    page.on('pageerror', (err) => this.errors.push(err.message));
  }

  static async open(
    tap: Tap,
    browser: Browser,
    who: 'agent' | 'visitor',
    url: string,
    prepare?: (page: Page) => Promise<void>,
  ): Promise<CallPage> {
    const context = await browser.newContext();
    tap.teardown(() => context.close());
    const side = new CallPage(who, await context.newPage());
    await prepare?.(side.page);
    await side.page.goto(url);
    return side;
  }

  /** Runs `fn` in the page with its state (throws if the page has no state yet). */
  run<R>(fn: (state: PageState) => R | Promise<R>): Promise<R> {
    return this.page.evaluate(`(${fn.toString()})(window.__calldocker)`) as Promise<R>;
  }
  events() {
    return this.page.evaluate(() => window.__calldocker?.events ?? []);
  }
  async eventTypes() {
    return (await this.events()).map((e) => e.type);
  }
  framesDecoded() {
    return this.page.evaluate(
      async () => (await window.__calldocker?.session?.stats())?.framesDecoded ?? 0,
    );
  }
  /** `signalingState/connectionState` of the session's current peer connection. */
  pcState() {
    return this.page.evaluate(() => {
      const pc = window.__calldocker?.session?.pc;
      return pc === undefined ? 'none' : `${pc.signalingState}/${pc.connectionState}`;
    });
  }
  remoteMediaState() {
    return this.page.evaluate(() => window.__calldocker?.remoteMediaState);
  }
  /** Remembers the session's peer connection, for {@link pcReplaced}. */
  rememberPc() {
    return this.page.evaluate(() => void (window.__pcBefore = window.__calldocker?.session?.pc));
  }
  /** Whether the session's peer connection is no longer the remembered one, which is closed. */
  pcReplaced() {
    return this.page.evaluate(() => ({
      replaced: window.__calldocker?.session?.pc !== window.__pcBefore,
      oldState: window.__pcBefore?.connectionState,
    }));
  }
}

/** An agent page and a visitor page of one company, on their own signaling server. */
class Call {
  private constructor(
    readonly origin: string,
    readonly agent: CallPage,
    readonly visitor: CallPage,
  ) {}

  static async open(
    tap: Tap,
    browser: Browser,
    company: string,
    visitor: { browser?: Browser; prepare?: (page: Page, origin: string) => Promise<void> } = {},
  ): Promise<Call> {
    const srv = await buildServer(tap);
    const origin = await serveCallPage(tap);
    const url = (who: 'agent' | 'visitor') => {
      const token = signToken({ sub: `${who}-1`, role: who, company_id: company, name: who });
      const query = new URLSearchParams({ signal: srv.wsUrl, token, role: who });
      return `${origin}/call.html?${query.toString()}`;
    };
    const agent = await CallPage.open(tap, browser, 'agent', url('agent'));
    const prepare = visitor.prepare;
    const visitorPage = await CallPage.open(
      tap,
      visitor.browser ?? browser,
      'visitor',
      url('visitor'),
      prepare && ((page) => prepare(page, origin)),
    );
    return new Call(origin, agent, visitorPage);
  }

  get sides(): [CallPage, CallPage] {
    return [this.agent, this.visitor];
  }

  /** Polls `probe` until `done(value)`; on timeout fails with the last value and both pages' events. */
  async until<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const value = await probe();
      if (done(value)) return value;
      if (Date.now() > deadline) {
        const events = await Promise.all(this.sides.map((s) => s.events().catch(() => 'gone')));
        throw new Error(
          `timed out: ${what}; last ${JSON.stringify(value)}; events ${JSON.stringify(events)}`,
        );
      }
      await delay(100);
    }
  }

  /** Waits until `side` decodes video and the count grows; returns the last count. */
  async framesFlowing(side: CallPage): Promise<number> {
    const first = await this.until(
      `${side.who} decodes frames`,
      () => side.framesDecoded(),
      (n) => n > 0,
    );
    return this.until(
      `${side.who} decodes more frames`,
      () => side.framesDecoded(),
      (n) => n > first,
    );
  }

  /** Waits until both sides are connected and decode frames that keep coming. */
  async up(): Promise<void> {
    for (const side of this.sides) {
      await this.until(
        `${side.who} connected`,
        () => side.pcState(),
        (s) => s.endsWith('/connected'),
      );
    }
    await Promise.all(this.sides.map((side) => this.framesFlowing(side)));
  }

  /** Neither page threw, and neither session emitted `error` (a failed negotiation step). */
  async assertNoErrors(tap: Tap): Promise<void> {
    tap.same([...this.agent.errors, ...this.visitor.errors], [], 'no uncaught error on the pages');
    const emitted = await Promise.all(
      this.sides.map(async (side) => (await side.events()).filter((e) => e.type === 'error')),
    );
    tap.same(emitted, [[], []], 'no error event from either session');
  }
}

const iceUfrag = (sdp: string | undefined) => /^a=ice-ufrag:(.+)$/m.exec(sdp ?? '')?.[1];

const chromiumPath = await chromiumOrSkip(t, 'call-session');
if (chromiumPath !== undefined) {
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [...CHROMIUM_ARGS, ...GRANT_ARGS],
    timeout: 30_000,
  });
  t.teardown(() => browser.close());
  defineTests(browser, chromiumPath);
}

function defineTests(browser: Browser, executablePath: string): void {
  const opts = { timeout: TEST_TIMEOUT_MS };

  t.test('two pages complete a call and decode video on both sides', opts, async (t) => {
    const startedAt = Date.now();
    const call = await Call.open(t, browser, 'acme-call');
    await call.up();
    t.comment(`call up, frames decoded on both sides, ${Date.now() - startedAt} ms after opening`);
    for (const side of call.sides) {
      const before = await side.framesDecoded();
      const after = await call.until(
        'more frames',
        () => side.framesDecoded(),
        (n) => n > before,
      );
      t.ok(after > before, `the ${side.who} decodes more and more frames (${before} -> ${after})`);
      const size = await side.page.evaluate(() => {
        const video = document.getElementById('remote') as HTMLVideoElement;
        return [video.videoWidth, video.videoHeight];
      });
      t.ok(size[0]! > 0 && size[1]! > 0, `the ${side.who}'s video element shows the peer`);
      const stats = await side.run((s) => s.session!.stats());
      t.type(stats.rttMs, 'number', `the ${side.who}'s stats() reports the round-trip time`);
    }
    t.ok(
      (await call.visitor.eventTypes()).includes('call_started'),
      'the visitor got call_started',
    );
    await call.assertNoErrors(t);
  });

  t.test(
    'simultaneous offers from both sides (glare) resolve without a deadlock',
    opts,
    async (t) => {
      const call = await Call.open(t, browser, 'acme-glare');
      await call.up();
      const localUfrags = () =>
        Promise.all(call.sides.map((side) => side.run((s) => s.session!.pc.localDescription?.sdp)));
      const before = (await localUfrags()).map(iceUfrag);

      // Incoming frames are held back until both sides have made their offer: a true collision.
      await Promise.all(call.sides.map((side) => side.run((s) => s.hold(true))));
      await Promise.all(call.sides.map((side) => side.run((s) => s.session!.restartIce())));
      for (const side of call.sides) {
        await call.until(
          `${side.who} made an offer`,
          () => side.pcState(),
          (s) => s.startsWith('have-local-offer/'),
        );
      }
      await Promise.all(call.sides.map((side) => side.run((s) => s.hold(false))));

      for (const side of call.sides) {
        await call.until(
          `${side.who} stable and connected`,
          () => side.pcState(),
          (s) => s === 'stable/connected',
        );
        const offers = (await side.events()).filter((e) => e.type === 'webrtc_offer');
        t.ok(
          offers.some((e) => e['signalingState'] === 'have-local-offer'),
          `the ${side.who} got an offer while its own was out`,
        );
      }
      const after = (await localUfrags()).map(iceUfrag);
      t.not(after[0], before[0], 'the agent restarted ICE');
      t.not(after[1], before[1], 'the visitor restarted ICE');
      for (const side of call.sides) {
        const frames = await side.framesDecoded();
        await call.until(
          `${side.who} frames after glare`,
          () => side.framesDecoded(),
          (n) => n > frames,
        );
      }
      t.pass('frames keep coming on both sides');
      await call.assertNoErrors(t);
    },
  );

  t.test('a visitor page reloaded mid-call resumes it and media flows again', opts, async (t) => {
    const call = await Call.open(t, browser, 'acme-reload');
    await call.up();
    const ufragBefore = iceUfrag(await call.agent.run((s) => s.session!.pc.remoteDescription?.sdp));
    await call.agent.rememberPc();
    const reloadedAt = Date.now();
    await call.visitor.page.reload();

    const types = await call.until(
      'call_resumed on the reloaded page',
      () => call.visitor.eventTypes(),
      (types) => types.includes('call_resumed'),
    );
    t.notOk(types.includes('requested'), 'the reloaded visitor asks for no second call');
    t.equal(await call.visitor.run((s) => s.sessions), 1, 'it resumes in a new CallSession');
    for (const side of call.sides) {
      await call.until(
        `${side.who} connected again`,
        () => side.pcState(),
        (s) => s.endsWith('/connected'),
      );
    }
    t.ok((await call.framesFlowing(call.visitor)) > 0, "the visitor's new session decodes video");
    t.ok((await call.framesFlowing(call.agent)) > 0, 'the agent decodes the visitor again');
    t.comment(`media flowing both ways ${Date.now() - reloadedAt} ms after the reload`);

    const agentEvents = await call.agent.events();
    const agentTypes = agentEvents.map((e) => e.type);
    t.ok(
      agentTypes.includes('peer_disconnected') && agentTypes.includes('peer_reconnected'),
      'the agent saw the visitor leave and come back',
    );
    const offer = agentEvents.filter((e) => e.type === 'webrtc_offer').at(-1);
    t.not(offer?.['iceUfrag'], ufragBefore, 'the new offer restarts ICE (new credentials)');
    t.same(
      await call.agent.pcReplaced(),
      { replaced: true, oldState: 'closed' },
      "the agent's session replaced its peer connection for the visitor's new one",
    );
    await call.assertNoErrors(t);
  });

  t.test('an agent page reloaded mid-call resumes it and media flows again', opts, async (t) => {
    const call = await Call.open(t, browser, 'acme-agent-reload');
    await call.up();
    await call.visitor.rememberPc();
    const reloadedAt = Date.now();
    await call.agent.page.reload();

    const types = await call.until(
      'call_resumed on the reloaded page',
      () => call.agent.eventTypes(),
      (types) => types.includes('call_resumed'),
    );
    t.notOk(types.includes('acceptError'), 'the reloaded agent does not accept the call again');
    for (const side of call.sides) {
      await call.until(
        `${side.who} connected again`,
        () => side.pcState(),
        (s) => s.endsWith('/connected'),
      );
    }
    t.ok((await call.framesFlowing(call.agent)) > 0, "the agent's new session decodes video");
    t.ok((await call.framesFlowing(call.visitor)) > 0, 'the visitor decodes the agent again');
    t.comment(`media flowing both ways ${Date.now() - reloadedAt} ms after the reload`);
    t.ok((await call.visitor.eventTypes()).includes('peer_reconnected'), 'the visitor saw it back');
    t.same(
      await call.visitor.pcReplaced(),
      { replaced: true, oldState: 'closed' },
      "the visitor's session replaced its peer connection for the agent's new one",
    );
    await call.assertNoErrors(t);
  });

  t.test(
    'mute, camera off and screen share reach the other page as media_state',
    opts,
    async (t) => {
      const call = await Call.open(t, browser, 'acme-media');
      await call.up();
      const expectOn = async (side: CallPage, want: object, what: string) => {
        const got = await call.until(
          what,
          () => side.remoteMediaState(),
          (m) => JSON.stringify(m) === JSON.stringify(want),
        );
        t.same(got, want, what);
      };

      await call.visitor.run((s) => s.session!.setAudioEnabled(false));
      await expectOn(
        call.agent,
        { audio: false, video: true, screen: false },
        'mute reaches the agent',
      );
      await call.visitor.run((s) => s.session!.setVideoEnabled(false));
      await expectOn(
        call.agent,
        { audio: false, video: false, screen: false },
        'camera off reaches the agent',
      );

      const camera = await call.agent.run((s) => s.video());
      // getDisplayMedia itself: the flags above pick the whole (headless) screen without asking.
      await call.visitor.run((s) => s.session!.setScreenShare(true));
      await expectOn(
        call.agent,
        { audio: false, video: false, screen: true },
        'screen share reaches the agent',
      );
      const screen = await call.until(
        'the screen arrives in place of the camera',
        () => call.agent.run((s) => s.video()),
        (v) =>
          v.frameWidth > 0 &&
          `${v.frameWidth}x${v.frameHeight}` !== `${camera.frameWidth}x${camera.frameHeight}`,
      );
      t.pass(
        `the agent decodes the screen (${screen.frameWidth}x${screen.frameHeight}) in place of the camera (${camera.frameWidth}x${camera.frameHeight})`,
      );
      await call.visitor.run((s) => s.session!.setScreenShare(false));
      await expectOn(
        call.agent,
        { audio: false, video: false, screen: false },
        'the end of the screen share reaches the agent',
      );

      await call.agent.run((s) => s.session!.setAudioEnabled(false));
      await expectOn(
        call.visitor,
        { audio: false, video: true, screen: false },
        "the agent's mute reaches the visitor",
      );
      await call.assertNoErrors(t);
    },
  );

  t.test(
    'a denied camera makes start() reject with MediaError permission_denied',
    opts,
    async (t) => {
      // This browser has no fake UI: it asks, and the visitor's origin has camera and mic denied.
      const denying = await chromium.launch({
        executablePath,
        args: CHROMIUM_ARGS,
        timeout: 30_000,
      });
      t.teardown(() => denying.close());
      const call = await Call.open(t, browser, 'acme-denied', {
        browser: denying,
        prepare: async (page, origin) => {
          const cdp = await page.context().newCDPSession(page);
          for (const name of ['camera', 'microphone']) {
            await cdp.send('Browser.setPermission', {
              permission: { name },
              setting: 'denied',
              origin,
            });
          }
        },
      });
      const error = await call.until(
        'start() rejected',
        () => call.visitor.page.evaluate(() => window.__calldocker?.startError),
        (e) => e !== undefined,
      );
      t.same(
        { name: error?.name, reason: error?.reason },
        { name: 'MediaError', reason: 'permission_denied' },
        'start() rejects with a MediaError whose reason is permission_denied',
      );
      const ended = await call.until(
        'the call ended on the agent page',
        async () => (await call.agent.events()).find((e) => e.type === 'ended'),
        (e) => e !== undefined,
      );
      t.equal(
        ended?.['reason'],
        'media_error',
        'the visitor page hangs up, and the agent sees why',
      );
      await call.assertNoErrors(t);
    },
  );
}
