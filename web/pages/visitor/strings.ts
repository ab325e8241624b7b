/** Every word the visitor's page shows, in one place (the in-call view's words spread in). */
import { callStrings } from '../shared/call-strings.js';

const minutes = (sec: number) => Math.max(1, Math.round(sec / 60));

export const strings = {
  ...callStrings,
  startTitle: 'Talk to us',
  intro: 'Talk to us by video or audio, right here in your browser. No account needed.',
  yourName: 'Your name (optional)',
  purpose: 'What is it about? (optional)',
  callType: 'How do you want to talk?',
  video: 'Video',
  audio: 'Audio only',
  whoTo: 'Who do you want to talk to?',
  anyAgent: 'Any available agent',
  statusWord: { online: 'online', away: 'away', busy: 'busy', offline: 'offline' },
  agentsOnline: (n: number) => (n === 1 ? '1 agent online' : `${n} agents online`),
  nobodyOnline:
    'Nobody is online right now. You can still wait in the queue, and the next agent to come online will see your call.',
  connecting: 'Connecting…',
  call: 'Call',

  deviceTitle: 'Check your camera and microphone',
  deviceAudioTitle: 'Check your microphone',
  deviceHint: 'This is what the agent will see and hear. Speak to see the level move.',
  microphone: 'Microphone',
  micLevel: 'Microphone level',
  preview: 'Preview of your camera',
  asking: 'Waiting for permission to use your camera and microphone…',
  startCall: 'Start call',
  back: 'Back',
  tryAgain: 'Try again',
  busy: (name: string) => `${name} is on another call right now.`,
  callAnyone: 'Call any available agent',
  audioOnly: 'Call with audio only',
  mediaFailure: {
    permission_denied: {
      title: 'Camera or microphone blocked',
      text: 'Your browser did not allow this page to use them. Click the camera or lock icon in the address bar, set Camera and Microphone to Allow, then press Try again. Or talk without video.',
    },
    no_device: {
      title: 'No camera found',
      text: 'We could not find a camera. Connect one and press Try again, or talk without video.',
    },
    device_busy: {
      title: 'Camera or microphone in use',
      text: 'Another program (another call, a meeting app) is using your camera or microphone. Close it, then press Try again.',
    },
    media_error: {
      title: 'Camera or microphone not working',
      text: 'Something went wrong while starting them. Press Try again.',
    },
  },
  noMicrophone: 'No microphone could be used. Connect one, allow it, then press Try again.',

  waitingTitle: 'Waiting for an agent',
  ringingTitle: 'Calling…',
  placing: 'Placing your call…',
  position: (n: number) => (n === 1 ? 'You are next in line.' : `You are number ${n} in line.`),
  estimate: (sec: number) =>
    sec < 60 ? 'Expected wait: under a minute.' : `Expected wait: about ${minutes(sec)} min.`,
  ringing: (name: string) => `Ringing ${name}…`,
  waitHint: 'Keep this page open. You will be connected as soon as an agent answers.',
  cancel: 'Cancel',
  resuming: 'Getting back to your call…',

  afterTitle: 'Call ended',
  duration: (text: string) => `Duration ${text}`,
  rateTitle: 'How was your call?',
  stars: (n: number) => (n === 1 ? '1 star' : `${n} stars`),
  comment: 'Comment (optional)',
  sendRating: 'Send rating',
  sending: 'Sending…',
  thanks: 'Thank you for your rating.',
  rating: {
    already_rated: 'This call has already been rated. Thank you!',
    rating_window_closed: 'It is too late to rate this call.',
    unavailable: 'Ratings cannot be sent right now.',
    failed: 'The rating could not be sent. Try again.',
    pickStars: 'Choose from 1 to 5 stars first.',
  },
  callAgain: 'Call again',

  failure: {
    declined: { title: 'The agent could not take your call', text: 'They declined it.' },
    ring_timeout: {
      title: 'Nobody answered',
      text: 'The agent did not answer in time. Try again, or ask for any available agent.',
    },
    queue_timeout: {
      title: 'Nobody answered',
      text: 'All our agents stayed busy for too long. Please try again later.',
    },
    agent_busy: {
      title: 'That agent is on another call right now.',
      text: 'Call any available agent instead?',
    },
    agent_unavailable: {
      title: 'That agent is no longer available',
      text: 'They went away or took another call. Choose someone else or any available agent.',
    },
    company_disabled: {
      title: 'Calls are switched off',
      text: 'This company is not taking calls at the moment.',
    },
    connection_lost: {
      title: 'Connection lost',
      text: 'We could not get the connection back. Check your internet connection, then try again.',
    },
    unreachable: {
      title: 'The call service cannot be reached',
      text: 'Check your internet connection. If it works, the service may be down for a moment.',
    },
    request_failed: { title: 'The call could not be placed', text: 'Something went wrong.' },
    queue_full: {
      title: 'The line is full',
      text: 'Too many callers are waiting right now. Please try again in a few minutes.',
    },
    rate_limited: {
      title: 'Too many calls in a short while',
      text: 'Please wait a minute, then try again.',
    },
  },
} as const;

export type Strings = typeof strings;
