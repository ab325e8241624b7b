/**
 * The agent's dashboard (`/agent`): log in, set a status, watch the queue, answer rings and
 * calls, see the team, the call history and today's figures. State lives in `store.ts`, words
 * in `strings.ts`; this entry only starts things.
 */
import { render } from 'preact';
import '../shared/base.css';
import './agent.css';
import { App } from './components/app.js';
import { restoreSession } from './session.js';
// Registers the session hooks (connect on login, disconnect on logout) before any session starts.
import './signaling.js';
import { now } from './store.js';
import { strings } from './strings.js';

document.title = strings.pageTitle;
// One clock for every counter on screen (waits, countdowns).
setInterval(() => (now.value = Date.now()), 1000);
restoreSession();
render(<App />, document.getElementById('app')!);
