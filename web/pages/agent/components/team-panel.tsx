/** Colleagues and their status, live; the status is a word, its dot only a help. */
import { auth, serverStatus, team } from '../store.js';
import { strings } from '../strings.js';

export function TeamPanel() {
  const me = auth.value?.agent.id;
  const members = [...team.value.values()]
    .map((m) =>
      m.id === me && serverStatus.value !== undefined ? { ...m, status: serverStatus.value } : m,
    )
    .sort((a, b) => (a.id === me ? -1 : b.id === me ? 1 : a.name.localeCompare(b.name)));
  return (
    <>
      <h2 class="panel-title">{strings.teamTitle}</h2>
      <p class="muted">{strings.teamHint}</p>
      <ul class="team" aria-label={strings.teamTitle}>
        {members.map((m) => (
          <li key={m.id} class="team-item">
            <span class="team-name">
              {m.name} {m.id === me && <span class="muted">{strings.youMark}</span>}
            </span>
            <span class={`status status-${m.status}`}>{strings.statusWord[m.status]}</span>
          </li>
        ))}
      </ul>
      {members.length <= 1 && <p class="empty">{strings.teamEmpty}</p>}
    </>
  );
}
