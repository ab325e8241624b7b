/**
 * The quality summary of a call, from `RTCPeerConnection.getStats()`: round-trip time, jitter,
 * packet loss and bitrate, with warnings at the thresholds people know. Pure functions, so they
 * are tested without a browser.
 */

/** A summary of the connection's quality, from `getStats()`. */
export interface CallStats {
  /** Round-trip time of the selected candidate pair, in ms. */
  rttMs: number | undefined;
  /** Inbound jitter (worst of audio/video), in ms. */
  jitterMs: number | undefined;
  /** Inbound packet loss since the previous call to stats(), in percent. */
  packetLossPct: number | undefined;
  /** Inbound and outbound bitrate since the previous call to stats(), in kbit/s. */
  inboundKbps: number | undefined;
  outboundKbps: number | undefined;
  /** Video frames decoded so far. */
  framesDecoded: number;
  /** Quality problems at the thresholds people know. */
  warnings: Array<'high_rtt' | 'packet_loss' | 'high_jitter'>;
}

/** Thresholds behind {@link CallStats.warnings}: RTT above 400 ms, loss above 3%, jitter above 30 ms. */
export const QUALITY_THRESHOLDS = { rttMs: 400, packetLossPct: 3, jitterMs: 30 } as const;

/** Cumulative counters read from one stats report, and when. */
export interface StatsTotals {
  at: number;
  rttMs: number | undefined;
  /** Worst inbound jitter, ms; undefined when nothing is received. */
  jitterMs: number | undefined;
  lost: number;
  received: number;
  bytesIn: number;
  bytesOut: number;
  framesDecoded: number;
}

type Entry = Record<string, unknown>;
const num = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

/** Adds up a report's entries (an `RTCStatsReport` or any iterable of stats objects). */
export function readStatsTotals(
  report: { forEach(cb: (entry: Entry) => void): void },
  at = Date.now(),
): StatsTotals {
  const totals: StatsTotals = {
    at,
    rttMs: undefined,
    jitterMs: undefined,
    lost: 0,
    received: 0,
    bytesIn: 0,
    bytesOut: 0,
    framesDecoded: 0,
  };
  report.forEach((s) => {
    if (s['type'] === 'candidate-pair' && s['nominated'] === true) {
      if (typeof s['currentRoundTripTime'] === 'number')
        totals.rttMs = s['currentRoundTripTime'] * 1000;
    } else if (s['type'] === 'inbound-rtp') {
      totals.jitterMs = Math.max(totals.jitterMs ?? 0, num(s['jitter']) * 1000);
      totals.lost += num(s['packetsLost']);
      totals.received += num(s['packetsReceived']);
      totals.bytesIn += num(s['bytesReceived']);
      totals.framesDecoded += num(s['framesDecoded']);
    } else if (s['type'] === 'outbound-rtp') {
      totals.bytesOut += num(s['bytesSent']);
    }
  });
  return totals;
}

/**
 * The summary of `now` against the previous reading (loss and bitrate are rates since then;
 * without one, loss counts from the start of the call and bitrate is unknown).
 */
export function summarizeStats(now: StatsTotals, prev: StatsTotals | undefined): CallStats {
  const seconds = prev === undefined ? 0 : (now.at - prev.at) / 1000;
  const lost = now.lost - (prev?.lost ?? 0);
  const received = now.received - (prev?.received ?? 0);
  const stats: CallStats = {
    rttMs: now.rttMs,
    jitterMs: now.jitterMs,
    packetLossPct: lost + received > 0 ? (100 * Math.max(0, lost)) / (lost + received) : undefined,
    inboundKbps: seconds > 0 ? ((now.bytesIn - prev!.bytesIn) * 8) / 1000 / seconds : undefined,
    outboundKbps: seconds > 0 ? ((now.bytesOut - prev!.bytesOut) * 8) / 1000 / seconds : undefined,
    framesDecoded: now.framesDecoded,
    warnings: [],
  };
  if (stats.rttMs !== undefined && stats.rttMs > QUALITY_THRESHOLDS.rttMs)
    stats.warnings.push('high_rtt');
  if (stats.packetLossPct !== undefined && stats.packetLossPct > QUALITY_THRESHOLDS.packetLossPct) {
    stats.warnings.push('packet_loss');
  }
  if (stats.jitterMs !== undefined && stats.jitterMs > QUALITY_THRESHOLDS.jitterMs) {
    stats.warnings.push('high_jitter');
  }
  return stats;
}
