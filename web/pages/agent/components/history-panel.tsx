/** The call history: filters, newest first in pages ("Load more"), and CSV export. */
import { CALL_STATES, type CallState } from '@calldocker/client';
import { useEffect } from 'preact/hooks';
import { exportCsv, loadHistory } from '../call-log.js';
import { formatDateTime, formatDuration } from '../format.js';
import { announce, auth, history, historyFilters, team, type CallRow } from '../store.js';
import { strings } from '../strings.js';

export function HistoryPanel() {
  const h = history.value;
  useEffect(() => {
    if (!h.loaded && !h.loading) void loadHistory();
  }, []);
  return (
    <>
      <div class="panel-head">
        <h2 class="panel-title" id="history-title">
          {strings.historyTitle}
        </h2>
        <button
          type="button"
          class="btn btn-small"
          onClick={() =>
            void exportCsv().then((ok) => {
              if (!ok) announce(strings.exportFailed);
            })
          }
          disabled={h.rows.length === 0}
        >
          {strings.exportCsv}
        </button>
      </div>
      <Filters />
      {h.error !== undefined && (
        <p class="notice notice-bad" role="alert">
          {h.error}{' '}
          <button type="button" class="btn btn-small" onClick={() => void loadHistory()}>
            {strings.retry}
          </button>
        </p>
      )}
      {h.loaded && h.rows.length === 0 && <p class="empty">{strings.historyEmpty}</p>}
      {h.rows.length > 0 && (
        <div class="table-scroll" role="region" aria-labelledby="history-title" tabIndex={0}>
          <table class="history">
            <thead>
              <tr>
                <th scope="col">{strings.colTime}</th>
                <th scope="col">{strings.colVisitor}</th>
                <th scope="col">{strings.colAgent}</th>
                <th scope="col">{strings.colType}</th>
                <th scope="col">{strings.colState}</th>
                <th scope="col">{strings.colDuration}</th>
                <th scope="col">{strings.colRating}</th>
              </tr>
            </thead>
            <tbody>
              {h.rows.map((row) => (
                <Row key={row.id} row={row} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p class="history-foot">
        {h.rows.length > 0 && <span class="muted">{strings.shownCount(h.rows.length)}</span>}
        {h.loading && <span role="status">{strings.loading}</span>}
        {h.nextCursor !== null && !h.loading && (
          <button type="button" class="btn btn-small" onClick={() => void loadHistory(true)}>
            {strings.loadMore}
          </button>
        )}
      </p>
    </>
  );
}

function Row({ row }: { row: CallRow }) {
  const rating = typeof row.rating === 'number' ? row.rating : undefined;
  return (
    <tr>
      <td>{formatDateTime(row.createdAt)}</td>
      <th scope="row">
        {row.visitor.name}
        {row.purpose !== null && row.purpose !== '' && <span class="cell-sub">{row.purpose}</span>}
      </th>
      <td>{row.agent?.name ?? strings.nobody}</td>
      <td>{strings.typeShort[row.callType]}</td>
      <td>
        <span class={`state state-${row.state}`}>{strings.stateWord[row.state]}</span>
      </td>
      <td class="num">
        {row.durationSec === null ? strings.nobody : formatDuration(row.durationSec)}
      </td>
      <td>
        {rating === undefined ? (
          <span class="muted">{strings.noRating}</span>
        ) : (
          <span aria-label={strings.ratingOf(rating)} role="img" class="stars">
            {'★'.repeat(rating)}
            {'☆'.repeat(Math.max(0, 5 - rating))}
          </span>
        )}
        {row.ratingComment != null && row.ratingComment !== '' && (
          <span class="cell-sub">{row.ratingComment}</span>
        )}
      </td>
    </tr>
  );
}

function Filters() {
  const f = historyFilters.value;
  const isAdmin = auth.value?.agent.role === 'admin';
  const set = (patch: Partial<typeof f>) => (historyFilters.value = { ...f, ...patch });
  const agents = new Map<string, string>();
  for (const m of team.value.values()) agents.set(m.id, m.name);
  for (const r of history.value.rows) if (r.agent !== null) agents.set(r.agent.id, r.agent.name);
  const onSubmit = (ev: Event) => {
    ev.preventDefault();
    void loadHistory();
  };
  return (
    <form class="filters" onSubmit={onSubmit} aria-label={strings.filters}>
      <div class="field">
        <label for="f-from">{strings.from}</label>
        <input
          id="f-from"
          type="date"
          value={f.from}
          onInput={(e) => set({ from: e.currentTarget.value })}
        />
      </div>
      <div class="field">
        <label for="f-to">{strings.to}</label>
        <input
          id="f-to"
          type="date"
          value={f.to}
          onInput={(e) => set({ to: e.currentTarget.value })}
        />
      </div>
      <div class="field">
        <label for="f-state">{strings.state}</label>
        <select
          id="f-state"
          value={f.state}
          onChange={(e) => set({ state: e.currentTarget.value as CallState | '' })}
        >
          <option value="">{strings.anyState}</option>
          {CALL_STATES.map((s) => (
            <option key={s} value={s}>
              {strings.stateWord[s]}
            </option>
          ))}
        </select>
      </div>
      {isAdmin && (
        <div class="field">
          <label for="f-agent">{strings.agent}</label>
          <select
            id="f-agent"
            value={f.agentId}
            onChange={(e) => set({ agentId: e.currentTarget.value })}
          >
            <option value="">{strings.anyAgent}</option>
            {[...agents].map(([id, name]) => (
              <option key={id} value={id}>
                {name}
              </option>
            ))}
          </select>
        </div>
      )}
      <button type="submit" class="btn btn-primary btn-small filters-apply">
        {strings.apply}
      </button>
    </form>
  );
}
