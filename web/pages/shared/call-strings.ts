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
  // Added with the full in-call view (all optional to read: older pages simply spread these in).
  chatUnread: (n: number) => `${n} unread`,
  chatTitle: 'Chat',
  chatEmpty: 'No messages yet.',
  chatClose: 'Close chat',
  you: 'You',
  sendFailed: 'Not sent. Check the connection and try again.',
  peerMuted: (name: string) => `${name} is muted`,
  peerCameraOff: (name: string) => `${name} turned the camera off`,
  peerSharing: (name: string) => `${name} is sharing their screen`,
  audioCall: 'Audio call',
  quality: 'Connection',
  qualityLevel: { good: 'Good', fair: 'Fair', poor: 'Poor', unknown: 'Checking…' },
  qualityDetail: (rttMs: string, lossPct: string, kbps: string) =>
    `${rttMs} ms delay, ${lossPct}% loss, ${kbps} kbit/s`,
  screenShareFailed: 'The screen could not be shared.',
  soundBlocked: 'The browser paused the sound.',
  turnOnSound: 'Turn on sound',
} as const;

/** The shape every page's copy of the call view's words has. */
export type CallStrings = typeof callStrings;
