/**
 * Helpers of the dashboard's browser tests: an agent logged in through the real form, and a
 * visitor as a Node `WebSocketClient` with a token from the web host (no media: for the queue
 * and rings; media calls use the test call page, see `agent-ringing.test.ts`).
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Test } from 'tap';
import { WebSocket } from 'ws';
import { WebSocketClient, type ServerMessageOf, type ServerMessageType } from '@calldocker/client';
import { newPage, type Stack, type StackAgent } from './harness.js';

/** An agent's dashboard page. */
export interface AgentPage {
  readonly context: BrowserContext;
  readonly page: Page;
  readonly errors: string[];
}

/** Fills the login form of `page` (already on /agent) and submits it. */
export async function fillLogin(
  page: Page,
  companyId: string,
  email: string,
  password: string,
): Promise<void> {
  await page.getByLabel('Company').fill(companyId);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** Opens /agent in a fresh context and logs `agent` in; resolves once the queue tab shows. */
export async function openAgent(
  t: Test,
  browser: Browser,
  stack: Stack,
  agent: StackAgent,
  options: Parameters<Browser['newContext']>[0] = {},
  beforeGoto?: (context: BrowserContext) => Promise<void>,
): Promise<AgentPage> {
  const { context, page, errors } = await newPage(t, browser, options);
  if (beforeGoto !== undefined) await beforeGoto(context);
  await page.goto(`${stack.web}/agent`);
  await fillLogin(page, stack.companyId, agent.email, agent.password);
  await page.getByRole('tab', { name: /Queue/ }).waitFor();
  await page.getByText('Connecting…').waitFor({ state: 'detached' });
  return { context, page, errors };
}

/** A visitor of the stack's company, connected, recording every frame it receives. */
export class Visitor {
  readonly frames: Array<{ type: string; [field: string]: unknown }> = [];
  private waiters: Array<() => void> = [];

  private constructor(
    readonly client: WebSocketClient,
    /** The visitor token (for the rating route). */
    readonly token: string,
  ) {
    client.on('message', (m) => {
      this.frames.push(m as { type: string });
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Gets a token from `POST /api/visitor-token` and connects. */
  static async connect(t: Test, stack: Stack, name: string): Promise<Visitor> {
    const res = await fetch(`${stack.web}/api/visitor-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ companyId: stack.companyId, name }),
    });
    if (!res.ok) throw new Error(`visitor token: HTTP ${res.status}`);
    const { token } = (await res.json()) as { token: string };
    const client = new WebSocketClient({ url: stack.signaling, token, WebSocket });
    t.teardown(() => client.disconnect());
    // Listening before connecting: agent_list follows connection_established at once.
    const visitor = new Visitor(client, token);
    await client.connect();
    return visitor;
  }

  /** Resolves with the first frame of `type` received (already or later), within `ms`. */
  async next<K extends ServerMessageType>(type: K, ms = 20_000): Promise<ServerMessageOf<K>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.frames.find((f) => f.type === type);
      if (found !== undefined) return found as unknown as ServerMessageOf<K>;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`visitor: no ${type} within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** The agents of a stack by first name. */
export function agentsOf(stack: Stack): { alice: StackAgent; bob: StackAgent } {
  const [alice, bob] = stack.agents;
  if (alice === undefined || bob === undefined) throw new Error('the stack has no Alice and Bob');
  return { alice, bob };
}

/** A readable list of axe violations for a failing assertion. */
export const describeViolations = (v: ReadonlyArray<{ id: string; nodes: unknown }>) =>
  JSON.stringify(v, null, 1);
