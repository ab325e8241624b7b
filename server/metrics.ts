/**
 * A small Prometheus text-format registry.
 *
 * Hand-written rather than prom-client because the relay hot path increments two counters
 * and observes a histogram per message: here that is a Map lookup and an array scan, with no
 * label-object hashing. Gauges are computed at scrape time from the live state, so they can
 * never drift from it.
 */

type Labels = Readonly<Record<string, string>>;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function renderLabels(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k] ?? '')}"`).join(',')}}`;
}

interface Metric {
  render(): string;
}

/** A counter with at most one label, the common case on the hot path. */
export class Counter implements Metric {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly label?: string,
  ) {}

  /** Adds `n` to the series with label value `value` (ignored when the counter has no label). */
  inc(value = '', n = 1): void {
    this.values.set(value, (this.values.get(value) ?? 0) + n);
  }

  /** The current value of one series (0 when never incremented). */
  get(value = ''): number {
    return this.values.get(value) ?? 0;
  }

  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n`;
    if (this.values.size === 0 && this.label === undefined) out += `${this.name} 0\n`;
    for (const [value, n] of this.values) {
      const labels = this.label === undefined ? '' : renderLabels({ [this.label]: value });
      out += `${this.name}${labels} ${n}\n`;
    }
    return out;
  }
}

/** A gauge whose samples are read from live state when scraped. */
export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly collect: () => Iterable<readonly [Labels, number]>,
  ) {}

  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} gauge\n`;
    for (const [labels, value] of this.collect())
      out += `${this.name}${renderLabels(labels)} ${value}\n`;
    return out;
  }
}

/** A histogram with fixed buckets (upper bounds, ascending). */
export class Histogram implements Metric {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
  ) {
    this.counts = new Array<number>(buckets.length).fill(0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    const buckets = this.buckets;
    for (let i = 0; i < buckets.length; i++) {
      if (value <= buckets[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }

  /** Number of observations so far. */
  get observations(): number {
    return this.count;
  }

  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`;
    let cumulative = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      cumulative += this.counts[i]!;
      out += `${this.name}_bucket{le="${this.buckets[i]}"} ${cumulative}\n`;
    }
    out += `${this.name}_bucket{le="+Inf"} ${this.count}\n`;
    out += `${this.name}_sum ${this.sum}\n${this.name}_count ${this.count}\n`;
    return out;
  }
}

/** A set of metrics rendered together at `/metrics`. */
export class Registry {
  private readonly metrics: Metric[] = [];

  counter(name: string, help: string, label?: string): Counter {
    return this.add(new Counter(name, help, label));
  }

  gauge(name: string, help: string, collect: () => Iterable<readonly [Labels, number]>): Gauge {
    return this.add(new Gauge(name, help, collect));
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, buckets));
  }

  private add<M extends Metric>(metric: M): M {
    this.metrics.push(metric);
    return metric;
  }

  /** The Prometheus text exposition (version 0.0.4). */
  render(): string {
    return this.metrics.map((m) => m.render()).join('');
  }
}

/** Content type of {@link Registry.render}'s output. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * The process's memory under the names Prometheus' Node.js client uses, so the usual dashboards
 * (and the soak test) can watch it grow or settle. Read at scrape time like every gauge.
 */
function registerMemoryGauges(registry: Registry): void {
  registry.gauge('process_resident_memory_bytes', 'Resident memory size in bytes', () => [
    [{}, process.memoryUsage.rss()],
  ]);
  registry.gauge('nodejs_heap_size_total_bytes', 'Process heap size from V8 in bytes', () => [
    [{}, process.memoryUsage().heapTotal],
  ]);
  registry.gauge('nodejs_heap_size_used_bytes', 'Process heap size used from V8 in bytes', () => [
    [{}, process.memoryUsage().heapUsed],
  ]);
  registry.gauge(
    'nodejs_external_memory_bytes',
    'Memory of C++ objects bound to JavaScript objects (Buffers included) in bytes',
    () => [[{}, process.memoryUsage().external]],
  );
}

/**
 * The signaling server's counters and the process's memory gauges; the gauges of its own state
 * are registered by the app.
 */
export function createSignalingMetrics(registry = new Registry()) {
  registerMemoryGauges(registry);
  return {
    registry,
    messagesIn: registry.counter(
      'calldocker_messages_in_total',
      'Client messages received, by type',
      'type',
    ),
    messagesOut: registry.counter(
      'calldocker_messages_out_total',
      'Messages sent to clients, by type',
      'type',
    ),
    errors: registry.counter('calldocker_errors_total', 'Error frames sent, by code', 'code'),
    closes: registry.counter(
      'calldocker_closes_total',
      'Connections closed by the server, by close code',
      'code',
    ),
    authFailures: registry.counter(
      'calldocker_auth_failures_total',
      'Refused tokens, by reason',
      'reason',
    ),
    connectionsOpened: registry.counter(
      'calldocker_connections_opened_total',
      'Authenticated connections accepted, by role',
      'role',
    ),
    callTransitions: registry.counter(
      'calldocker_call_transitions_total',
      'Calls entering each state',
      'state',
    ),
    limitRefusals: registry.counter(
      'calldocker_limit_refusals_total',
      'Connections and call requests refused by a limit on anonymous load, by limit',
      'limit',
    ),
    heartbeatTerminations: registry.counter(
      'calldocker_heartbeat_terminations_total',
      'Connections terminated for not answering pings',
    ),
    relayLatency: registry.histogram(
      'calldocker_relay_latency_seconds',
      'Time from receiving a relayed message to handing it to the peer socket',
      [0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.005, 0.025, 0.1],
    ),
  };
}

/** The counters and histogram the signaling server updates. */
export type SignalingMetrics = ReturnType<typeof createSignalingMetrics>;
