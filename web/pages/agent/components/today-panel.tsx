/** Today's figures, from local midnight; read again when a call finishes, never on a timer. */
import { useEffect } from 'preact/hooks';
import { loadToday } from '../call-log.js';
import { formatDay, formatDuration, formatPercent, localMidnight } from '../format.js';
import { today } from '../store.js';
import { strings } from '../strings.js';

export function TodayPanel() {
  const { stats, loading, error } = today.value;
  useEffect(() => {
    void loadToday();
  }, []);
  return (
    <>
      <h2 class="panel-title">{strings.todayTitle}</h2>
      <p class="muted">{strings.todaySince(formatDay(localMidnight()))}</p>
      {error !== undefined && (
        <p class="notice notice-bad" role="alert">
          {error}{' '}
          <button type="button" class="btn btn-small" onClick={() => void loadToday()}>
            {strings.retry}
          </button>
        </p>
      )}
      {stats === undefined && loading && <p role="status">{strings.loading}</p>}
      {stats !== undefined && (
        <dl class="figures">
          <Figure label={strings.offered} value={String(stats.offered)} />
          <Figure label={strings.answered} value={String(stats.answered)} />
          <Figure label={strings.missed} value={String(stats.missed)} />
          <Figure label={strings.abandoned} value={String(stats.abandoned)} />
          <Figure
            label={strings.serviceLevel}
            value={formatPercent(stats.serviceLevel)}
            hint={strings.serviceLevelHint(stats.serviceLevelThresholdSec)}
          />
          <Figure
            label={strings.averageSpeedOfAnswer}
            value={formatDuration(stats.averageSpeedOfAnswerSec)}
          />
          <Figure
            label={strings.averageHandleTime}
            value={formatDuration(stats.averageHandleTimeSec)}
          />
          {typeof stats.averageRating === 'number' && (stats.rated ?? 0) > 0 ? (
            <Figure
              label={strings.averageRating}
              value={`${stats.averageRating.toFixed(1)} / 5`}
              hint={strings.ratedCount(stats.rated ?? 0)}
            />
          ) : (
            <Figure
              label={strings.averageRating}
              value={strings.nobody}
              hint={strings.notRatedYet}
            />
          )}
        </dl>
      )}
    </>
  );
}

function Figure({ label, value, hint }: { label: string; value: string; hint?: string }) {
  return (
    <div class="figure">
      <dt>{label}</dt>
      <dd>
        <span class="figure-value">{value}</span>
        {hint !== undefined && <span class="figure-hint">{hint}</span>}
      </dd>
    </div>
  );
}
