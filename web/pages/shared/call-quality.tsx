/**
 * The connection's quality, read from `session.stats()` every two seconds and said in a word
 * (Good, Fair, Poor) beside bars and the figures: colour is never the only signal.
 */
import { QUALITY_THRESHOLDS, type CallSession, type CallStats } from '@calldocker/client';
import { useEffect, useState } from 'preact/hooks';
import type { CallStrings } from './call-strings.js';

const STATS_EVERY_MS = 2000;

/** A quality level. */
export type QualityLevel = 'good' | 'fair' | 'poor' | 'unknown';

/** Good below the thresholds, Fair above one, Poor well above (twice the RTT, 3x the loss). */
export function qualityOf(stats: CallStats | undefined): QualityLevel {
  if (stats === undefined || (stats.rttMs === undefined && stats.packetLossPct === undefined)) {
    return 'unknown';
  }
  const rtt = stats.rttMs ?? 0;
  const loss = stats.packetLossPct ?? 0;
  if (rtt > QUALITY_THRESHOLDS.rttMs * 2 || loss > QUALITY_THRESHOLDS.packetLossPct * 3) {
    return 'poor';
  }
  return stats.warnings.length > 0 ? 'fair' : 'good';
}

const BARS = { good: 3, fair: 2, poor: 1, unknown: 0 } as const;
const fmt = (n: number | undefined, digits = 0) => (n === undefined ? '–' : n.toFixed(digits));

/** The indicator. */
export function CallQuality({ session, strings }: { session: CallSession; strings: CallStrings }) {
  const [stats, setStats] = useState<CallStats | undefined>(undefined);
  useEffect(() => {
    let stopped = false;
    const timer = setInterval(() => {
      session.stats().then(
        (s) => stopped || setStats(s),
        () => undefined,
      );
    }, STATS_EVERY_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [session]);
  const level = qualityOf(stats);
  const detail =
    stats === undefined
      ? ''
      : strings.qualityDetail(
          fmt(stats.rttMs),
          fmt(stats.packetLossPct, 1),
          fmt(stats.inboundKbps),
        );
  return (
    <p class={`quality quality-${level}`} title={detail}>
      <span class="bars" aria-hidden="true">
        {[1, 2, 3].map((n) => (
          <span key={n} class={n <= BARS[level] ? 'bar on' : 'bar'} />
        ))}
      </span>
      <span>
        {strings.quality}: <strong>{strings.qualityLevel[level]}</strong>
      </span>
      {detail !== '' && <span class="quality-detail">{detail}</span>}
    </p>
  );
}
