import t from 'tap';
import {
  QUALITY_THRESHOLDS,
  readStatsTotals,
  summarizeStats,
} from '../../client-lib/call-stats.js';

/** A stats report as getStats() gives it: something with forEach over stats objects. */
const report = (...entries: Array<Record<string, unknown>>) => ({
  forEach: (cb: (e: Record<string, unknown>) => void) => entries.forEach(cb),
});

const pair = (rttS: number, nominated = true) => ({
  type: 'candidate-pair',
  nominated,
  currentRoundTripTime: rttS,
});
const inbound = (f: Record<string, number>) => ({ type: 'inbound-rtp', ...f });

t.test(
  'totals add up inbound streams and take the nominated pair and the worst jitter',
  async (t) => {
    const totals = readStatsTotals(
      report(
        pair(9, false),
        pair(0.05),
        inbound({ jitter: 0.01, packetsLost: 2, packetsReceived: 98, bytesReceived: 1000 }),
        inbound({
          jitter: 0.04,
          packetsLost: 1,
          packetsReceived: 99,
          bytesReceived: 3000,
          framesDecoded: 60,
        }),
        { type: 'outbound-rtp', bytesSent: 5000 },
        { type: 'codec', mimeType: 'video/VP8' },
      ),
      1000,
    );
    t.same(totals, {
      at: 1000,
      rttMs: 50, // the nominated pair, not the 9 s one
      jitterMs: 40, // worst of 10 and 40 ms
      lost: 3,
      received: 197,
      bytesIn: 4000,
      bytesOut: 5000,
      framesDecoded: 60,
    });
  },
);

t.test('a quiet, healthy call has no warnings and rates from the previous reading', async (t) => {
  const first = readStatsTotals(
    report(
      pair(0.05),
      inbound({ jitter: 0.005, packetsLost: 0, packetsReceived: 100, bytesReceived: 0 }),
    ),
    0,
  );
  const second = readStatsTotals(
    report(
      pair(0.06),
      inbound({ jitter: 0.006, packetsLost: 1, packetsReceived: 199, bytesReceived: 250_000 }),
      { type: 'outbound-rtp', bytesSent: 125_000 },
    ),
    2000,
  );
  const stats = summarizeStats(second, first);
  t.equal(stats.rttMs, 60);
  t.equal(stats.packetLossPct, 1, '1 lost of 100 since the previous reading: 1%');
  t.equal(stats.inboundKbps, 1000, '250,000 bytes in 2 s: 1000 kbit/s');
  t.equal(stats.outboundKbps, 500);
  t.same(stats.warnings, []);
});

t.test('each threshold, crossed, raises its warning; at the threshold it does not', async (t) => {
  const at = (rttMs: number, lossPct: number, jitterMs: number) =>
    summarizeStats(
      readStatsTotals(
        report(
          pair(rttMs / 1000),
          inbound({
            jitter: jitterMs / 1000,
            packetsLost: lossPct,
            packetsReceived: 100 - lossPct,
          }),
        ),
      ),
      undefined,
    ).warnings;
  const { rttMs, packetLossPct, jitterMs } = QUALITY_THRESHOLDS;
  t.same(at(rttMs, packetLossPct, jitterMs), [], 'exactly at the thresholds: fine');
  t.same(at(rttMs + 1, 0, 0), ['high_rtt']);
  t.same(at(0, packetLossPct + 1, 0), ['packet_loss']);
  t.same(at(0, 0, jitterMs + 1), ['high_jitter']);
  t.same(at(rttMs + 100, 10, jitterMs + 10), ['high_rtt', 'packet_loss', 'high_jitter']);
});

t.test('without inbound media or a nominated pair the figures are unknown, not zero', async (t) => {
  const stats = summarizeStats(readStatsTotals(report(pair(0.1, false))), undefined);
  t.equal(stats.rttMs, undefined);
  t.equal(stats.jitterMs, undefined);
  t.equal(stats.packetLossPct, undefined);
  t.equal(stats.inboundKbps, undefined, 'no rate without a previous reading');
  t.same(stats.warnings, []);
});
