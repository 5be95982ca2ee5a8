import type { DestroyReason, PoolStats } from "@lifeguard/core";
import { destroyReasons } from "@lifeguard/core";
import type { SeriesCounters, SeriesSnapshot } from "@lifeguard/core/internal";
import {
  checkBuckets,
  defaultTimeBuckets,
  sharedPoolSeriesTracker,
} from "@lifeguard/core/internal";
import type { OpenMetricsContentType, PrometheusContentType, Registry } from "prom-client";
import { Counter, Gauge, register as globalRegister } from "prom-client";
import type { HostGaugeSpec } from "./host-gauges.js";
import { hostGauges, hostLabels } from "./host-gauges.js";
import type { SeriesLabelsOf, TimeSource } from "./time-histogram-metric.js";
import { TimeHistogramMetric } from "./time-histogram-metric.js";

/** Options of {@link registerLifeguardMetrics}. */
export interface LifeguardMetricsOptions {
  /** The registry to add the metrics to (Prometheus or OpenMetrics). Default: prom-client's global `register`. */
  register?: Registry<PrometheusContentType> | Registry<OpenMetricsContentType>;
  /**
   * Upper bounds, in seconds, of the wait, use and create time histograms.
   * Default {@link defaultTimeBuckets}: 100 µs to 30 s.
   */
  buckets?: readonly number[];
}

/** What {@link registerLifeguardMetrics} returns. */
export interface LifeguardMetrics extends Disposable {
  /** The names of the metrics it registered, in registration order. */
  readonly names: readonly string[];
  /** Removes the metrics from the registry and unsubscribes from the pools' channels. Idempotent. */
  unregister(): void;
}

/** Pre-built label sets of one series: built once per pool name, reused on every scrape. */
interface SeriesLabels {
  readonly pool: { readonly pool_name: string };
  readonly idle: { readonly pool_name: string; readonly state: "idle" };
  readonly used: { readonly pool_name: string; readonly state: "used" };
  readonly prePing: Readonly<Record<PrePingResult, { pool_name: string; result: PrePingResult }>>;
  readonly eviction: Readonly<Record<DestroyReason, { pool_name: string; reason: DestroyReason }>>;
  readonly acquireFailure: Readonly<
    Record<AcquireFailure, { pool_name: string; reason: AcquireFailure }>
  >;
}

type PrePingResult = "ok" | "failed" | "timeout" | "bypassed";
type AcquireFailure = "queue_full" | "unavailable" | "aborted";

const prePingResults: readonly PrePingResult[] = ["ok", "failed", "timeout", "bypassed"];
const acquireFailures: readonly AcquireFailure[] = ["queue_full", "unavailable", "aborted"];

function labelsFor(label: string): SeriesLabels {
  const pool_name = label;
  return {
    pool: { pool_name },
    idle: { pool_name, state: "idle" },
    used: { pool_name, state: "used" },
    prePing: Object.fromEntries(
      prePingResults.map((result) => [result, { pool_name, result }]),
    ) as SeriesLabels["prePing"],
    eviction: Object.fromEntries(
      destroyReasons.map((reason) => [reason, { pool_name, reason }]),
    ) as SeriesLabels["eviction"],
    acquireFailure: Object.fromEntries(
      acquireFailures.map((reason) => [reason, { pool_name, reason }]),
    ) as SeriesLabels["acquireFailure"],
  };
}

type GaugeSpec = {
  name: string;
  help: string;
  labelNames: readonly string[];
  set: (gauge: Gauge, labels: SeriesLabels, stats: PoolStats) => void;
};
type CounterSpec = {
  name: string;
  help: string;
  labelNames: readonly string[];
  inc: (counter: Counter, labels: SeriesLabels, counters: SeriesCounters) => void;
};

const gauges: readonly GaugeSpec[] = [
  {
    name: "db_client_connection_count",
    help: "Open connections by state: idle (ready to lend) or used (lent, being pre-pinged, or being cleaned after release).",
    labelNames: ["pool_name", "state"],
    set(gauge, labels, stats) {
      gauge.set(labels.idle, stats.idle);
      gauge.set(labels.used, stats.used);
    },
  },
  {
    name: "db_client_connection_idle_max",
    help: "The maximum number of idle open connections allowed (Lifeguard lets every connection up to max be idle).",
    labelNames: ["pool_name"],
    set: (gauge, labels, stats) => gauge.set(labels.pool, stats.max),
  },
  {
    name: "db_client_connection_idle_min",
    help: "The minimum number of idle open connections allowed (the pool's min: opened at start and kept open).",
    labelNames: ["pool_name"],
    set: (gauge, labels, stats) => gauge.set(labels.pool, stats.min),
  },
  {
    name: "db_client_connection_max",
    help: "The maximum number of open connections allowed.",
    labelNames: ["pool_name"],
    set: (gauge, labels, stats) => gauge.set(labels.pool, stats.max),
  },
  {
    name: "db_client_connection_pending_requests",
    help: "Callers waiting for a connection.",
    labelNames: ["pool_name"],
    set: (gauge, labels, stats) => gauge.set(labels.pool, stats.pending),
  },
];

const counters: readonly CounterSpec[] = [
  {
    name: "db_client_connection_timeouts_total",
    help: "Acquires that gave up at their deadline (acquireTimeoutMillis) without a connection.",
    labelNames: ["pool_name"],
    inc: (counter, labels, c) => counter.inc(labels.pool, c.timeouts),
  },
  {
    name: "lifeguard_prepings_total",
    help: "Pre-ping checks by result: ok, failed and timeout are round trips; bypassed borrows skipped the round trip (used within the bypass window).",
    labelNames: ["pool_name", "result"],
    inc(counter, labels, c) {
      counter.inc(labels.prePing.ok, c.prePingOk);
      counter.inc(labels.prePing.failed, c.prePingFailed);
      counter.inc(labels.prePing.timeout, c.prePingTimeout);
      counter.inc(labels.prePing.bypassed, c.prePingBypassed);
    },
  },
  {
    name: "lifeguard_resets_total",
    help: "Sessions reset on release (resetQuery, e.g. DISCARD ALL) because the borrower changed session state.",
    labelNames: ["pool_name"],
    inc: (counter, labels, c) => counter.inc(labels.pool, c.resets),
  },
  {
    name: "lifeguard_rollbacks_on_release_total",
    help: "Transactions the borrower left open, rolled back on release.",
    labelNames: ["pool_name"],
    inc: (counter, labels, c) => counter.inc(labels.pool, c.rollbacks),
  },
  {
    name: "lifeguard_evictions_total",
    help: "Connections closed by the pool, by reason.",
    labelNames: ["pool_name", "reason"],
    inc(counter, labels, c) {
      for (const reason of destroyReasons)
        counter.inc(labels.eviction[reason], c.evictions[reason]);
    },
  },
  {
    name: "lifeguard_leaks_total",
    help: "Leases held longer than leakDetectionThresholdMillis.",
    labelNames: ["pool_name"],
    inc: (counter, labels, c) => counter.inc(labels.pool, c.leaks),
  },
  {
    name: "lifeguard_connect_errors_total",
    help: "Failed attempts to open a connection.",
    labelNames: ["pool_name"],
    inc: (counter, labels, c) => counter.inc(labels.pool, c.connectErrors),
  },
  {
    name: "lifeguard_connection_errors_total",
    help: "Errors reported by idle connections (the backend died or the network dropped); each such connection is replaced.",
    labelNames: ["pool_name"],
    inc: (counter, labels, c) => counter.inc(labels.pool, c.connectionErrors),
  },
  {
    name: "lifeguard_acquire_failures_total",
    help: "Acquires rejected without waiting out their deadline: queue_full (maxWaiting), unavailable (the database cannot be reached, fail-fast) or aborted (the caller's signal). Timeouts are db_client_connection_timeouts_total.",
    labelNames: ["pool_name", "reason"],
    inc(counter, labels, c) {
      counter.inc(labels.acquireFailure.queue_full, c.queueFull);
      counter.inc(labels.acquireFailure.unavailable, c.unavailable);
      counter.inc(labels.acquireFailure.aborted, c.aborts);
    },
  },
];

const histograms: readonly {
  name: string;
  help: string;
  source: TimeSource;
}[] = [
  {
    name: "db_client_connection_create_time_seconds",
    help: "The time it took to create a new connection.",
    source: (series) => series.createTime,
  },
  {
    name: "db_client_connection_wait_time_seconds",
    help: "The time it took to obtain an open connection from the pool (successful acquires).",
    source: (series) => series.waitTime,
  },
  {
    name: "db_client_connection_use_time_seconds",
    help: "The time between borrowing a connection and returning it to the pool.",
    source: (series) => series.useTime,
  },
];

type MetricSpec =
  | ({ kind: "gauge" } & GaugeSpec)
  | ({ kind: "host" } & HostGaugeSpec)
  | ({ kind: "counter" } & CounterSpec)
  | ({ kind: "histogram" } & (typeof histograms)[number]);

/** Registration (and exposition) order: the OpenTelemetry metrics first, then Lifeguard's. */
const specs: readonly MetricSpec[] = [
  ...gauges.map((g) => ({ kind: "gauge" as const, ...g })),
  ...counters
    .filter((c) => c.name.startsWith("db_"))
    .map((c) => ({ kind: "counter" as const, ...c })),
  ...histograms.map((h) => ({ kind: "histogram" as const, ...h })),
  ...counters
    .filter((c) => !c.name.startsWith("db_"))
    .map((c) => ({ kind: "counter" as const, ...c })),
  ...hostGauges.map((h) => ({ kind: "host" as const, ...h })),
];

export { hostMetricNames } from "./host-gauges.js";

/** Every metric name {@link registerLifeguardMetrics} registers, in exposition order. */
export const metricNames: readonly string[] = Object.freeze(specs.map((spec) => spec.name));

/**
 * Registers Lifeguard's metrics on a prom-client registry: the OpenTelemetry connection-pool
 * metrics in Prometheus form (`db_client_connection_*`) plus Lifeguard's own (`lifeguard_*`),
 * for every pool in the process, told apart by `pool_name`.
 *
 * It subscribes to the core's diagnostics channels (durations) and reads each pool's `stats()`
 * at scrape time (gauges and counters); adapters need nothing of their own.
 *
 * ```ts
 * import { registerLifeguardMetrics } from "@lifeguard/prometheus";
 * import { register } from "prom-client";
 *
 * registerLifeguardMetrics();
 * // in your /metrics handler:
 * response.setHeader("content-type", register.contentType);
 * response.end(await register.metrics());
 * ```
 */
export function registerLifeguardMetrics(options: LifeguardMetricsOptions = {}): LifeguardMetrics {
  const register = options.register ?? globalRegister;
  const buckets = checkBuckets(options.buckets ?? defaultTimeBuckets);
  for (const name of metricNames) {
    if (register.getSingleMetric(name) !== undefined) {
      throw new Error(
        `${name} is already registered on this registry: call registerLifeguardMetrics() once per registry (or unregister() the previous one first)`,
      );
    }
  }
  const tracker = sharedPoolSeriesTracker(buckets);
  // label sets by series label, built once per pool name
  const labelCache = new Map<string, SeriesLabels>();
  const labelsOf: SeriesLabelsOf<SeriesLabels> = (series) => {
    let labels = labelCache.get(series.label);
    if (labels === undefined) {
      labels = labelsFor(series.label);
      labelCache.set(series.label, labels);
    }
    return labels;
  };

  // every metric's collect() of one scrape runs in the same tick: read the pools once per scrape
  let cached: SeriesSnapshot[] | undefined;
  const snapshot = (): SeriesSnapshot[] => {
    if (cached === undefined) {
      cached = tracker.collect();
      queueMicrotask(() => {
        cached = undefined;
      });
    }
    return cached;
  };

  // by the name registered: an OpenMetrics registry renames counters (drops `_total`) when scraped
  const registered: [name: string, metric: unknown][] = [];
  const registers = [register];
  for (const spec of specs) registered.push([spec.name, create(spec)]);
  function create(spec: MetricSpec): unknown {
    switch (spec.kind) {
      case "gauge":
        return new Gauge({
          name: spec.name,
          help: spec.help,
          labelNames: spec.labelNames,
          registers,
          collect(this: Gauge) {
            this.reset();
            for (const s of snapshot()) {
              if (s.stats !== undefined) spec.set(this, labelsOf(s.series), s.stats);
            }
          },
        });
      case "host":
        return new Gauge({
          name: spec.name,
          help: spec.help,
          labelNames: spec.labelNames,
          registers,
          collect(this: Gauge) {
            this.reset();
            for (const s of snapshot()) {
              for (const server of s.servers)
                spec.set(this, hostLabels(s.series.label, server), server);
            }
          },
        });
      case "counter":
        return new Counter({
          name: spec.name,
          help: spec.help,
          labelNames: spec.labelNames,
          registers,
          collect(this: Counter) {
            this.reset();
            for (const s of snapshot()) spec.inc(this, labelsOf(s.series), s.counters);
          },
        });
      case "histogram":
        return new TimeHistogramMetric<SeriesLabels>({
          labelsOf,
          name: spec.name,
          help: spec.help,
          registers,
          buckets,
          series: () => snapshot().map((s) => s.series),
          source: spec.source,
        });
      default:
        return spec satisfies never;
    }
  }
  tracker.retain();

  let active = true;
  const unregister = (): void => {
    if (!active) return;
    active = false;
    tracker.release();
    for (const [name, metric] of registered) {
      if (register.getSingleMetric(name) === metric) register.removeSingleMetric(name);
    }
  };
  return {
    names: metricNames,
    unregister,
    [Symbol.dispose]: unregister,
  };
}
