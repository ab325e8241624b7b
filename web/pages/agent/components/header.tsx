/** The header: product, who is signed in, the Status control and Log out. */
import { unlockAudio } from '../ringtone.js';
import { endSession } from '../session.js';
import { chooseStatus } from '../signaling.js';
import {
  CHOOSABLE_STATUSES,
  auth,
  chosenStatus,
  serverStatus,
  type ChosenStatus,
} from '../store.js';
import { strings } from '../strings.js';

export function Header({ agentName, inert }: { agentName: string; inert: boolean }) {
  const busy = serverStatus.value === 'busy';
  const onChange = (ev: Event) => {
    const value = (ev.currentTarget as HTMLSelectElement).value as ChosenStatus;
    const id = auth.value?.agent.id;
    if (id !== undefined) void chooseStatus(value, id);
  };
  return (
    <header class="dash-header" inert={inert}>
      <p class="brand">{strings.product}</p>
      <p class="who">
        <span class="visually-hidden">{strings.signedInAs(agentName)}</span>
        <span aria-hidden="true">{agentName}</span>
      </p>
      <div class="status-control">
        <label for="agent-status">{strings.status}</label>
        <select
          id="agent-status"
          value={chosenStatus.value}
          onChange={onChange}
          // The click on the status control is a user gesture: it wakes the ringtone too.
          onPointerDown={unlockAudio}
          onKeyDown={unlockAudio}
          aria-describedby={busy ? 'agent-busy' : undefined}
        >
          {CHOOSABLE_STATUSES.map((s) => (
            <option key={s} value={s}>
              {strings.statusWord[s]}
            </option>
          ))}
        </select>
        <span
          id="agent-busy"
          class={`status status-${busy ? 'busy' : chosenStatus.value}`}
          hidden={!busy}
        >
          {strings.busyInCall}
        </span>
      </div>
      <button
        type="button"
        class="btn btn-small"
        onClick={() => endSession({ kind: 'info', text: strings.loggedOut })}
      >
        {strings.logOut}
      </button>
    </header>
  );
}
