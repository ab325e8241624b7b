/**
 * The words of the in-call view, shared by the visitor's page and the agent's dashboard. Each
 * page's own strings module spreads these in, so a translation replaces one module per page.
 */
export const callStrings = {
  mute: 'Mute',
  unmute: 'Unmute',
  camera: 'Camera',
  shareScreen: 'Share screen',
  chat: 'Chat',
  send: 'Send',
  message: 'Message',
  hangUp: 'Hang up',
  reconnecting: 'Reconnecting…',
  remoteVideo: (name: string) => `Video of ${name}`,
  localVideo: 'Your camera',
  callWith: (name: string) => `In a call with ${name}`,
  elapsed: (mmss: string) => `Call time ${mmss}`,
} as const;

/** The shape every page's copy of the call view's words has. */
export type CallStrings = typeof callStrings;
