/**
 * What the web host writes into each page's HTML for the page to start with (a JSON data block,
 * `#calldocker-boot`): shared by the host (`web/routes/pages.ts`) and the pages, types only.
 */

/** Where the signaling server is, as `GET /api/config` says it too. */
export interface SignalingLocation {
  /** Public signaling URL (`ws://` or `wss://`), or `''`: this page's hostname and the port. */
  readonly signalingUrl: string;
  readonly signalingPort: number;
}

/** The visitor's call page. */
export interface VisitorBoot extends SignalingLocation {
  readonly page: 'visitor';
  readonly companyId: string;
  readonly companyName: string;
  /** The company exists but is disabled: the page says so instead of offering a call. */
  readonly companyDisabled: boolean;
  /** Opened by the call button in an iframe (`?embed=1`): compact, and talks to its parent. */
  readonly embed: boolean;
}

/** The agent's dashboard. */
export interface AgentBoot extends SignalingLocation {
  readonly page: 'agent';
}

/** Any page's boot data. */
export type PageBootData = VisitorBoot | AgentBoot;
