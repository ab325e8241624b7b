/**
 * The start form: name and purpose (optional), audio or video, and whom to call: any available
 * agent or one of the agents online now, live from the server's presence messages.
 */
import type { AgentSummary } from '@calldocker/client';
import { checkThenCall } from './call-flow.js';
import { onlineAgents, setForm, useStore } from './store.js';
import { strings } from './strings.js';

function AgentChoice({ agent, chosen }: { agent: AgentSummary; chosen: boolean }) {
  const online = agent.status === 'online';
  return (
    <label class={`choice${online ? '' : ' choice-off'}`}>
      <input
        type="radio"
        name="agent"
        value={agent.id}
        disabled={!online}
        checked={chosen}
        onChange={() => setForm({ agentId: agent.id })}
      />
      <span class="choice-name">{agent.name}</span>
      <span class={`status status-${agent.status}`}>{strings.statusWord[agent.status]}</span>
    </label>
  );
}

function AgentPicker() {
  const state = useStore();
  const { agentId } = state.form;
  const connected = state.connection === 'connected';
  const online = onlineAgents(state).length;
  return (
    <fieldset>
      <legend>{strings.whoTo}</legend>
      <div class="choices">
        <label class="choice">
          <input
            type="radio"
            name="agent"
            value=""
            checked={agentId === ''}
            onChange={() => setForm({ agentId: '' })}
          />
          <span class="choice-name">{strings.anyAgent}</span>
          {connected && online > 0 && <span class="muted">{strings.agentsOnline(online)}</span>}
        </label>
        {state.agents.map((agent) => (
          <AgentChoice key={agent.id} agent={agent} chosen={agentId === agent.id} />
        ))}
      </div>
      <div role="status" class="agent-status">
        {!connected ? (
          <p class="muted">{strings.connecting}</p>
        ) : online === 0 ? (
          <p class="notice notice-warn">{strings.nobodyOnline}</p>
        ) : null}
      </div>
    </fieldset>
  );
}

/** The start screen. */
export function StartView() {
  const { form } = useStore();
  return (
    <form
      class="card start"
      onSubmit={(event) => {
        event.preventDefault();
        checkThenCall();
      }}
    >
      <h2 tabIndex={-1} data-focus-on-show>
        {strings.startTitle}
      </h2>
      <p class="muted intro">{strings.intro}</p>
      <div class="field">
        <label for="visitor-name">{strings.yourName}</label>
        <input
          id="visitor-name"
          type="text"
          autoComplete="name"
          maxLength={100}
          value={form.name}
          onInput={(e) => setForm({ name: e.currentTarget.value })}
        />
      </div>
      <div class="field">
        <label for="visitor-purpose">{strings.purpose}</label>
        <input
          id="visitor-purpose"
          type="text"
          maxLength={200}
          value={form.purpose}
          onInput={(e) => setForm({ purpose: e.currentTarget.value })}
        />
      </div>
      <fieldset>
        <legend>{strings.callType}</legend>
        <div class="choices choices-row">
          {(['video', 'audio'] as const).map((type) => (
            <label class="choice" key={type}>
              <input
                type="radio"
                name="call-type"
                value={type}
                checked={form.callType === type}
                onChange={() => setForm({ callType: type })}
              />
              <span class="choice-name">{strings[type]}</span>
            </label>
          ))}
        </div>
      </fieldset>
      <AgentPicker />
      <button type="submit" class="btn btn-primary btn-block btn-call">
        {strings.call}
      </button>
    </form>
  );
}
