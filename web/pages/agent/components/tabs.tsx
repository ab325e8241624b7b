/**
 * The dashboard's sections as WAI-ARIA tabs (automatic activation): arrow keys, Home and End
 * move between tabs, one tab stop, each panel labelled by its tab.
 */
import { useRef } from 'preact/hooks';
import { TABS, tab, waitingCount, type Tab } from '../store.js';
import { strings } from '../strings.js';
import { HistoryPanel } from './history-panel.js';
import { QueuePanel } from './queue-panel.js';
import { TeamPanel } from './team-panel.js';
import { TodayPanel } from './today-panel.js';

const LABELS: Record<Tab, string> = {
  queue: strings.tabQueue,
  team: strings.tabTeam,
  history: strings.tabHistory,
  today: strings.tabToday,
};

export function Tabs() {
  const buttons = useRef<Partial<Record<Tab, HTMLButtonElement | null>>>({});
  const current = tab.value;

  const onKeyDown = (ev: KeyboardEvent) => {
    const i = TABS.indexOf(current);
    const next =
      ev.key === 'ArrowRight'
        ? TABS[(i + 1) % TABS.length]
        : ev.key === 'ArrowLeft'
          ? TABS[(i - 1 + TABS.length) % TABS.length]
          : ev.key === 'Home'
            ? TABS[0]
            : ev.key === 'End'
              ? TABS[TABS.length - 1]
              : undefined;
    if (next === undefined) return;
    ev.preventDefault();
    tab.value = next;
    buttons.current[next]?.focus();
  };

  const waiting = waitingCount.value;
  return (
    <div class="tabs">
      <div role="tablist" aria-label={strings.sections} class="tab-list" onKeyDown={onKeyDown}>
        {TABS.map((t) => (
          <button
            key={t}
            type="button"
            role="tab"
            id={`tab-${t}`}
            aria-controls={`panel-${t}`}
            aria-selected={t === current}
            tabIndex={t === current ? 0 : -1}
            class="tab"
            ref={(el) => {
              buttons.current[t] = el;
            }}
            onClick={() => (tab.value = t)}
          >
            {LABELS[t]}
            {t === 'queue' && waiting > 0 && (
              <>
                <span class="tab-count" aria-hidden="true">
                  {waiting}
                </span>
                <span class="visually-hidden"> ({strings.queueCount(waiting)})</span>
              </>
            )}
          </button>
        ))}
      </div>
      {TABS.map((t) => (
        <section
          key={t}
          role="tabpanel"
          id={`panel-${t}`}
          aria-labelledby={`tab-${t}`}
          tabIndex={0}
          hidden={t !== current}
          class="tab-panel"
        >
          {t === current && <Panel tab={t} />}
        </section>
      ))}
    </div>
  );
}

function Panel({ tab: t }: { tab: Tab }) {
  switch (t) {
    case 'queue':
      return <QueuePanel />;
    case 'team':
      return <TeamPanel />;
    case 'history':
      return <HistoryPanel />;
    case 'today':
      return <TodayPanel />;
  }
}
