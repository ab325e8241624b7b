/**
 * Helpers of the visitor page's browser tests: the visitor's page (peer connections recorded,
 * console errors collected), the agent side as the client library's test page in Chromium
 * (`test/browser/pages/call.html`, role `agent`: it accepts the first call it is offered) or as
 * a Node `WebSocketClient` for signaling-only behaviour, and the accessibility check.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Test } from 'tap';
import { WebSocket } from 'ws';
import { WebSocketClient } from '@calldocker/client';
import { serveCallPage } from '../browser/call-page-server.js';
import { parseDatabaseUrl } from '../../config/config.js';
import { setCompanyDisabled } from '../../db/access.js';
import { openDatabase } from '../../db/database.js';
import {
  newPage,
  recordPeerConnections,
  seriousViolations,
  type Stack,
  type StackAgent,
} from './harness.js';

/**
 * The visitor's page of the stack's company, opened in a fresh context. `beforeLoad` runs on
 * the context before the page loads (to add an init script).
 */
export async function openVisitor(
  t: Test,
  browser: Browser,
  stack: Stack,
  options: {
    path?: string;
    grant?: boolean;
    beforeLoad?: (context: BrowserContext) => Promise<void>;
  } = {},
) {
  const opened = await newPage(t, browser);
  if (options.grant !== false) {
    await opened.context.grantPermissions(['camera', 'microphone'], { origin: stack.web });
  }
  await recordPeerConnections(opened.context);
  await options.beforeLoad?.(opened.context);
  await opened.page.goto(`${stack.web}${options.path ?? `/c/${stack.companyId}`}`);
  return opened;
}

/** Fails the test with axe-core's serious and critical violations on `page`, if any. */
export async function checkA11y(t: Test, page: Page, what: string): Promise<void> {
  const violations = await seriousViolations(page);
  t.same(
    violations.map((v) => `${v.id}: ${v.help} ${JSON.stringify(v.nodes.map((n) => n.target))}`),
    [],
    `${what}: no serious or critical accessibility violation`,
  );
}

/** An agent's token from the web host's login. */
export async function agentToken(stack: Stack, agent: StackAgent): Promise<string> {
  const res = await fetch(`${stack.web}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      email: agent.email,
      password: agent.password,
      companyId: stack.companyId,
    }),
  });
  if (!res.ok) throw new Error(`login of ${agent.email}: HTTP ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

/** A connected Node signaling client of `agent`, disconnected at teardown. */
export async function nodeAgent(t: Test, stack: Stack, agent: StackAgent) {
  const client = new WebSocketClient({
    url: stack.signaling,
    token: await agentToken(stack, agent),
    WebSocket: WebSocket as never,
  });
  t.teardown(() => client.disconnect());
  await client.connect();
  return client;
}

/** A connected Node signaling client of a new visitor of the stack's company. */
export async function nodeVisitor(t: Test, stack: Stack) {
  const res = await fetch(`${stack.web}/api/visitor-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ companyId: stack.companyId }),
  });
  if (!res.ok) throw new Error(`visitor token: HTTP ${res.status}`);
  const { token } = (await res.json()) as { token: string };
  const client = new WebSocketClient({
    url: stack.signaling,
    token,
    WebSocket: WebSocket as never,
  });
  t.teardown(() => client.disconnect());
  await client.connect();
  return client;
}

/** Disables (or enables again) the stack's company, as the admin tool does, in its database. */
export async function setDisabled(stack: Stack, disabled: boolean): Promise<void> {
  const database = openDatabase(parseDatabaseUrl(`sqlite:${stack.databasePath}`));
  try {
    await setCompanyDisabled(database.db, stack.companyId, disabled);
  } finally {
    await database.close();
  }
}

/** What the agent's test page keeps on `window.__calldocker`. */
interface AgentState {
  events: Array<{ type: string }>;
  remoteMediaState: { audio: boolean; video: boolean; screen: boolean } | undefined;
  session: { sendChat(text: string): Promise<unknown>; callId: string } | undefined;
  client: { on(event: string, fn: (m: { text: string }) => void): () => void };
}

/** The agent side in Chromium: accepts the first call it is offered, sends real media. */
export async function openAgentPage(t: Test, browser: Browser, stack: Stack, agent: StackAgent) {
  const origin = await serveCallPage(t);
  const token = await agentToken(stack, agent);
  const { page } = await newPage(t, browser);
  const query = new URLSearchParams({ signal: stack.signaling, token, role: 'agent' });
  await page.goto(`${origin}/call.html?${query.toString()}`);
  await page.waitForFunction(() =>
    (window as unknown as { __calldocker?: AgentState }).__calldocker?.events.some(
      (e) => e.type === 'connected',
    ),
  );
  // Chat lines the agent receives, for the test to read.
  await page.evaluate(() => {
    const w = window as unknown as { __calldocker: AgentState; __chat: string[] };
    w.__chat = [];
    w.__calldocker.client.on('chat_message', (m) => w.__chat.push(m.text));
  });
  const run = <R>(fn: (state: AgentState) => R | Promise<R>) =>
    page.evaluate(`(${fn.toString()})(window.__calldocker)`) as Promise<R>;
  return {
    page,
    run,
    remoteMediaState: () => run((s) => s.remoteMediaState ?? null),
    chatReceived: () => page.evaluate(() => (window as unknown as { __chat: string[] }).__chat),
    sendChat: (text: string) =>
      page.evaluate((text) => {
        void (window as unknown as { __calldocker: AgentState }).__calldocker.session?.sendChat(
          text,
        );
      }, text),
    inCall: () => run((s) => s.events.some((e) => e.type === 'started')),
  };
}
