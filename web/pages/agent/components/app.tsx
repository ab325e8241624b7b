/** The page: the login form, or the dashboard; and the live region both speak through. */
import { announcement, auth } from '../store.js';
import { Dashboard } from './dashboard.js';
import { Login } from './login.js';

export function App() {
  return (
    <>
      {auth.value === undefined ? <Login /> : <Dashboard agentName={auth.value.agent.name} />}
      <div class="visually-hidden" role="status" aria-live="polite" aria-atomic="true">
        {announcement.value}
      </div>
    </>
  );
}
