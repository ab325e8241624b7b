/**
 * Every word the agent's dashboard shows, in one module (the in-call view's words spread in
 * from {@link callStrings}), so a translation replaces this file and nothing else.
 */
import type { AgentStatus, CallState, CallType } from '@calldocker/client';
import { callStrings } from '../shared/call-strings.js';

export const strings = {
  ...callStrings,
  product: 'CallDocker',
  pageTitle: 'CallDocker agent',

  // Login
  loginTitle: 'Log in to answer calls',
  loginIntro: 'Use the account your administrator gave you.',
  company: 'Company',
  email: 'Email',
  password: 'Password',
  logIn: 'Log in',
  loggingIn: 'Logging in…',
  logOut: 'Log out',
  invalidCredentials: 'The company, email or password is not right.',
  locked: (when: string) =>
    `Too many attempts for this account. For your security, try again ${when}.`,
  inMinutes: (minutes: number) => (minutes <= 1 ? 'in a minute' : `in ${minutes} minutes`),
  inSeconds: (seconds: number) => `in ${seconds} seconds`,
  companyDisabled: 'This company’s account is disabled. Please contact your administrator.',
  unreachable: 'The server cannot be reached. Check your connection and try again.',
  loginFailed: 'Logging in failed. Please try again.',
  sessionExpired: 'Your session has expired. Please log in again.',
  sessionRefused: 'Your session is no longer valid. Please log in again.',
  accessChanged: 'You were signed out: your access changed. Please log in again.',
  loggedOut: 'You have logged out.',

  // Header and connection
  signedInAs: (name: string) => `Signed in as ${name}`,
  status: 'Status',
  statusWord: {
    online: 'Online',
    away: 'Away',
    busy: 'Busy',
    offline: 'Offline',
  } satisfies Record<AgentStatus, string>,
  busyInCall: 'Busy: in a call',
  connecting: 'Connecting…',
  connectionLost: 'Connection lost. Reconnecting…',
  connected: 'Connected.',
  statusSet: (word: string) => `Your status is now ${word}.`,
  statusFailed: 'Your status could not be changed. Please try again.',

  // Sound and notifications
  alerts: 'Alerts',
  testRingtone: 'Test ringtone',
  ringtoneVolume: 'Ringtone volume',
  enableSound: 'Enable sound',
  soundBlocked: 'The browser holds the ringtone back until you click on the page.',
  enableNotifications: 'Enable notifications',
  notificationsOn: 'Notifications are on.',
  notificationsBlocked: 'Notifications are blocked in this browser’s site settings.',

  // Tabs
  sections: 'Dashboard sections',
  tabQueue: 'Queue',
  tabTeam: 'Team',
  tabHistory: 'History',
  tabToday: 'Today',

  // Queue
  queueTitle: 'Waiting callers',
  queueEmpty: 'No one is waiting. New callers appear here at once.',
  accept: 'Accept',
  acceptCallFrom: (name: string) => `Accept call from ${name}`,
  decline: 'Decline',
  declineCallFrom: (name: string) => `Decline call from ${name}`,
  waiting: (time: string) => `Waiting ${time}`,
  forYou: 'Calling you',
  forAnyone: 'For anyone',
  noPurpose: 'No reason given',
  callTypeWord: { audio: 'Audio call', video: 'Video call' } satisfies Record<CallType, string>,
  queueCount: (n: number) => (n === 1 ? '1 caller waiting' : `${n} callers waiting`),
  queueTotal: (n: number) => `${n} waiting`,
  queueShowing: (n: number) =>
    n === 1
      ? 'Showing the caller who has waited longest.'
      : `Showing the ${n} callers who have waited longest.`,
  showMore: 'Show more',
  moreFailed: 'More waiting callers could not be loaded. Please try again.',
  acceptFailed: 'The call could not be accepted. Please try again.',

  // Ringing
  incomingCall: 'Incoming call',
  incomingFrom: (name: string) => `Incoming call from ${name}`,
  ringsOutIn: (seconds: number) => `Rings out in ${seconds} s`,
  callCancelled: (name: string) => `${name} hung up before the call was answered.`,
  callMissed: (name: string) => `Missed call from ${name}.`,
  answeredElsewhere: 'The call was answered in another tab.',
  declined: (name: string) => `You declined the call from ${name}.`,
  notificationTitle: (name: string) => `Call from ${name}`,
  blinkTitle: (name: string) => `☎ ${name} is calling`,

  // In the call
  callEnded: (name: string, duration: string) => `The call with ${name} ended after ${duration}.`,
  mediaFailed: 'Your camera or microphone could not be used, so the call was ended.',
  callStarted: (name: string) => `You are in a call with ${name}.`,

  // Team
  teamTitle: 'Your team',
  teamHint: 'Everyone of your company who is signed in, kept up to date as it changes.',
  teamEmpty: 'Nobody else is signed in right now.',
  youMark: '(you)',

  // History
  historyTitle: 'Call history',
  filters: 'Filters',
  from: 'From',
  to: 'To',
  state: 'State',
  agent: 'Agent',
  anyState: 'Any state',
  anyAgent: 'Any agent',
  apply: 'Apply',
  loadMore: 'Load more',
  loading: 'Loading…',
  exportCsv: 'Export CSV',
  exportFailed: 'The export could not be downloaded. Please try again.',
  historyEmpty: 'No calls match these filters.',
  historyFailed: 'The call history could not be loaded.',
  retry: 'Try again',
  stateWord: {
    queued: 'Queued',
    ringing: 'Ringing',
    answered: 'In progress',
    ended: 'Ended',
    missed: 'Missed',
    declined: 'Declined',
    abandoned: 'Abandoned',
    failed: 'Failed',
  } satisfies Record<CallState, string>,
  colTime: 'Time',
  colVisitor: 'Visitor',
  colAgent: 'Agent',
  colType: 'Type',
  colState: 'State',
  colDuration: 'Duration',
  colRating: 'Rating',
  typeShort: { audio: 'Audio', video: 'Video' } satisfies Record<CallType, string>,
  nobody: '—',
  noRating: 'Not rated',
  ratingOf: (stars: number) => `${stars} of 5`,
  shownCount: (n: number) => (n === 1 ? '1 call shown' : `${n} calls shown`),

  // Today
  todayTitle: 'Today',
  todaySince: (date: string) => `Since midnight, ${date}`,
  offered: 'Offered',
  answered: 'Answered',
  missed: 'Missed',
  abandoned: 'Abandoned',
  serviceLevel: 'Service level',
  serviceLevelHint: (s: number) => `Answered within ${s} s`,
  averageSpeedOfAnswer: 'Average speed of answer',
  averageHandleTime: 'Average handle time',
  averageRating: 'Average rating',
  ratedCount: (n: number) => (n === 1 ? 'from 1 rating' : `from ${n} ratings`),
  notRatedYet: 'No ratings yet',
  todayFailed: 'Today’s figures could not be loaded.',
} as const;

/** The dashboard's words. */
export type AgentStrings = typeof strings;
