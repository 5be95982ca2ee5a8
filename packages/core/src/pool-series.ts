// What the metric exporters (@lifeguard/otel, @lifeguard/prometheus) share: one series per pool
// name, fed by the core's channels and stats(), so every exporter reports the same numbers. It lives
// here because the exporters may import only the core (and not each other); the core itself never
// creates a tracker: only an exporter does.
import diagnosticsChannel from "node:diagnostics_channel";
import type {
  ConnectionAcquireEvent,
  ConnectionCreateEvent,
  ConnectionReleaseEvent,
  PoolEvent,
  PoolLike,
} from "./channels.js";
import { channelNames } from "./channels.js";
import type { DestroyReason } from "./entry.js";
import { destroyReasons } from "./entry.js";
import { listPools } from "./registry.js";
import type { ServerStats } from "./server-stats.js";
import type { PoolCounters, PoolStats } from "./stats.js";

/**
 * Upper bounds, in seconds, of the wait, use and create time histograms: 100 µs to 30 s. A pool
 * wait is often well under a millisecond (an idle connection is there) and at most the acquire
 * deadline (10 s by default); creating a connection takes milliseconds to seconds.
 */
export const defaultTimeBuckets: readonly number[] = Object.freeze([
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
  30,
]);

/** Checks user-given bucket bounds: finite, positive, strictly increasing. */
export function checkBuckets(buckets: readonly number[]): readonly number[] {
  if (buckets.length === 0) throw new TypeError("buckets: give at least one upper bound");
  let previous = 0;
  for (const bound of buckets) {
    if (typeof bound !== "number" || !Number.isFinite(bound) || bound <= previous) {
      throw new TypeError(
        `buckets: upper bounds must be finite, positive numbers in increasing order (seconds); got ${JSON.stringify(buckets)}`,
      );
    }
    previous = bound;
  }
  return Object.freeze([...buckets]);
}

/**
 * Durations of one kind for one series, aggregated in place: a few comparisons and adds per
 * event, no allocation. Values arrive in milliseconds (the channels' unit) and are compared
 * with bounds converted once, so the hot path does no division.
 */
export class TimeHistogram {
  readonly #boundsMillis: Float64Array;
  /** Observations per bucket (not cumulative); the last bucket is above the highest bound. */
  readonly counts: Float64Array;
  count = 0;
  sumMillis = 0;
  minMillis = Number.POSITIVE_INFINITY;
  maxMillis = Number.NEGATIVE_INFINITY;

  constructor(boundsMillis: Float64Array) {
    this.#boundsMillis = boundsMillis;
    this.counts = new Float64Array(boundsMillis.length + 1);
  }

  observe(millis: number): void {
    const bounds = this.#boundsMillis;
    const last = bounds.length;
    let i = 0;
    // upper bounds are inclusive (Prometheus `le`, OpenTelemetry explicit buckets)
    while (i < last && millis > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.count++;
    this.sumMillis += millis;
    if (millis < this.minMillis) this.minMillis = millis;
    if (millis > this.maxMillis) this.maxMillis = millis;
  }
}

/** The counters one series reports (all since its first pool was seen). */
export class SeriesCounters {
  timeouts = 0;
  queueFull = 0;
  unavailable = 0;
  aborts = 0;
  connectErrors = 0;
  leaks = 0;
  prePingOk = 0;
  prePingFailed = 0;
  prePingTimeout = 0;
  prePingBypassed = 0;
  readonly evictions = Object.fromEntries(destroyReasons.map((reason) => [reason, 0])) as Record<
    DestroyReason,
    number
  >;
  /** Counted from the connector's events (a ROLLBACK or reset it ran, an idle connection's error). */
  resets = 0;
  rollbacks = 0;
  connectionErrors = 0;

  /** Adds a pool's own counters (core counts these; the exporters never count them again). */
  addPool(counters: PoolCounters): void {
    this.timeouts += counters.timeouts;
    this.queueFull += counters.queueFull;
    this.unavailable += counters.unavailable;
    this.aborts += counters.aborts;
    this.connectErrors += counters.createErrors;
    this.leaks += counters.leaks;
    this.prePingOk += counters.prePings.ok;
    this.prePingFailed += counters.prePings.failed;
    this.prePingTimeout += counters.prePings.timeout;
    this.prePingBypassed += counters.prePings.bypassed;
    for (const reason of destroyReasons) this.evictions[reason] += counters.destroys[reason];
  }

  /** Adds another set of totals (the pools that used this name before and are now closed). */
  addTotals(other: SeriesCounters): void {
    this.timeouts += other.timeouts;
    this.queueFull += other.queueFull;
    this.unavailable += other.unavailable;
    this.aborts += other.aborts;
    this.connectErrors += other.connectErrors;
    this.leaks += other.leaks;
    this.prePingOk += other.prePingOk;
    this.prePingFailed += other.prePingFailed;
    this.prePingTimeout += other.prePingTimeout;
    this.prePingBypassed += other.prePingBypassed;
    for (const reason of destroyReasons) this.evictions[reason] += other.evictions[reason];
    this.resets += other.resets;
    this.rollbacks += other.rollbacks;
    this.connectionErrors += other.connectionErrors;
  }
}

/**
 * Everything reported under one pool name (`pool_name` / `db.client.connection.pool.name`).
 *
 * A series is bound to at most one open pool. When a pool closes, its final counters are kept
 * (`carried`) and the series waits for the next pool of that name, so counters stay monotonic
 * across a close-and-recreate. A second open pool with the same name gets a series of its own,
 * `<name>#2` (core warns about the duplicate): series are never merged.
 */
export class PoolSeries {
  /** The label value: the pool's name, or `<name>#<n>` for a duplicate. */
  readonly label: string;
  /** When the series was created (`Date.now()`): the start of its cumulative values. */
  readonly startedAt: number;
  /** The open pool reporting under this label now, if any. */
  pool: PoolLike | undefined = undefined;
  /**
   * What the open pool's `stats()` does not hold: the final counters of the pools that used this
   * label and are closed now, and the counts of the connector's events (resets, rollbacks, errors).
   */
  readonly carried = new SeriesCounters();
  readonly waitTime: TimeHistogram;
  readonly useTime: TimeHistogram;
  readonly createTime: TimeHistogram;
  /** For the owner of a private tracker (one with a sink): its attributes for this series. */
  sinkData: unknown = undefined;

  constructor(label: string, boundsMillis: Float64Array, startedAt: number) {
    this.label = label;
    this.startedAt = startedAt;
    this.waitTime = new TimeHistogram(boundsMillis);
    this.useTime = new TimeHistogram(boundsMillis);
    this.createTime = new TimeHistogram(boundsMillis);
  }
}

/** One series at collection time. */
export interface SeriesSnapshot {
  readonly series: PoolSeries;
  /** The open pool's snapshot; undefined when no open pool uses this name now (no gauges then). */
  readonly stats: PoolStats | undefined;
  /** Carried totals plus the open pool's. */
  readonly counters: SeriesCounters;
  /**
   * The open pool's connections by server (cluster mode: its hosts with their roles); empty for a
   * pool on one server, or when no open pool uses this name now.
   */
  readonly servers: readonly ServerStats[];
}

/** Where durations go when the exporter does not aggregate them in the series. */
export interface DurationSink {
  wait(series: PoolSeries, millis: number): void;
  use(series: PoolSeries, millis: number): void;
  create(series: PoolSeries, millis: number): void;
}

/**
 * Follows every Lifeguard pool in the process and keeps what the exporters report about it:
 * pools already open (`listPools()`) and pools created later (`lifeguard:pool:create`), one
 * series per name. Durations come from the channels; everything the core already counts is read
 * from `stats()` at collection time, so the exporters add no counting of their own.
 *
 * The channel subscribers run synchronously inside the pool's acquire and release: they look up
 * the series (a one-entry cache makes that a comparison for the usual single pool) and add to a
 * histogram in place. No allocation per event. Exporters that aggregate in place share one
 * tracker per process ({@link sharedPoolSeriesTracker}), so attaching both the Prometheus and the
 * OpenTelemetry exporter costs one subscriber per channel, not two.
 */
export class PoolSeriesTracker {
  readonly #boundsMillis: Float64Array;
  readonly #byLabel = new Map<string, PoolSeries>();
  readonly #byPool = new Map<PoolLike, PoolSeries>();
  readonly #subscriptions: readonly [string, (message: unknown) => void][];
  #lastPool: PoolLike | undefined = undefined;
  #lastSeries: PoolSeries | undefined = undefined;
  #users = 0;
  /** Called when the last user releases it. */
  readonly #onIdle: (() => void) | undefined;

  constructor(buckets: readonly number[], sink?: DurationSink, onIdle?: () => void) {
    this.#boundsMillis = Float64Array.from(buckets, (seconds) => seconds * 1000);
    this.#onIdle = onIdle;
    // one subscriber per mode, so each call site stays monomorphic
    const onAcquire =
      sink === undefined
        ? (message: unknown) => {
            const event = message as ConnectionAcquireEvent;
            this.#seriesOf(event.pool)?.waitTime.observe(event.waitMillis);
          }
        : (message: unknown) => {
            const event = message as ConnectionAcquireEvent;
            const series = this.#seriesOf(event.pool);
            if (series !== undefined) sink.wait(series, event.waitMillis);
          };
    const onRelease =
      sink === undefined
        ? (message: unknown) => {
            const event = message as ConnectionReleaseEvent;
            this.#seriesOf(event.pool)?.useTime.observe(event.useMillis);
          }
        : (message: unknown) => {
            const event = message as ConnectionReleaseEvent;
            const series = this.#seriesOf(event.pool);
            if (series !== undefined) sink.use(series, event.useMillis);
          };
    const onCreate =
      sink === undefined
        ? (message: unknown) => {
            const event = message as ConnectionCreateEvent;
            this.#seriesOf(event.pool)?.createTime.observe(event.durationMillis);
          }
        : (message: unknown) => {
            const event = message as ConnectionCreateEvent;
            const series = this.#seriesOf(event.pool);
            if (series !== undefined) sink.create(series, event.durationMillis);
          };
    const counting = (count: (series: PoolSeries) => void) => (message: unknown) => {
      const series = this.#seriesOf((message as PoolEvent).pool);
      if (series !== undefined) count(series);
    };
    this.#subscriptions = [
      [channelNames.poolCreate, (message) => this.#seriesOf((message as PoolEvent).pool)],
      [channelNames.poolClose, (message) => this.#closed((message as PoolEvent).pool)],
      [channelNames.connectionAcquire, onAcquire],
      [channelNames.connectionRelease, onRelease],
      [channelNames.connectionCreate, onCreate],
      [channelNames.connectionReset, counting((s) => s.carried.resets++)],
      [channelNames.connectionRollback, counting((s) => s.carried.rollbacks++)],
      [channelNames.connectionError, counting((s) => s.carried.connectionErrors++)],
    ];
  }

  /**
   * One more exporter uses it. The first subscribes to the channels and adopts the pools already
   * open, in creation order.
   */
  retain(): void {
    if (this.#users++ > 0) return;
    for (const [name, onMessage] of this.#subscriptions) {
      diagnosticsChannel.subscribe(name, onMessage);
    }
    for (const pool of listPools()) this.#seriesOf(pool);
  }

  /** One exporter less. The last one unsubscribes. */
  release(): void {
    if (this.#users === 0 || --this.#users > 0) return;
    for (const [name, onMessage] of this.#subscriptions) {
      diagnosticsChannel.unsubscribe(name, onMessage);
    }
    this.#onIdle?.();
  }

  /** Every series, with the open pools' snapshots read now. */
  collect(): SeriesSnapshot[] {
    for (const pool of listPools()) if (!this.#byPool.has(pool)) this.#seriesOf(pool);
    const snapshots: SeriesSnapshot[] = [];
    for (const series of this.#byLabel.values()) {
      const pool = series.pool;
      const stats = pool?.stats();
      const counters = new SeriesCounters();
      counters.addTotals(series.carried);
      if (stats !== undefined) counters.addPool(stats.counters);
      const servers = pool?.servers?.() ?? noServers;
      snapshots.push({ series, stats, counters, servers });
    }
    return snapshots;
  }

  #seriesOf(pool: PoolLike): PoolSeries | undefined {
    if (pool === this.#lastPool) return this.#lastSeries;
    const series = this.#byPool.get(pool) ?? this.#adopt(pool);
    this.#lastPool = pool;
    this.#lastSeries = series;
    return series;
  }

  /** Binds a pool seen for the first time to the first free series of its name. */
  #adopt(pool: PoolLike): PoolSeries | undefined {
    if (pool.stats().state === "closed") return undefined; // a straggler event: nothing to report
    const name = pool.name;
    for (let n = 1; ; n++) {
      const label = n === 1 ? name : `${name}#${n}`;
      let series = this.#byLabel.get(label);
      if (series === undefined) {
        series = new PoolSeries(label, this.#boundsMillis, Date.now());
        this.#byLabel.set(label, series);
      }
      if (series.pool === undefined) {
        series.pool = pool;
        this.#byPool.set(pool, series);
        return series;
      }
    }
  }

  /** A pool closed: keep its final counters under its label, and free the label. */
  #closed(pool: PoolLike): void {
    const series = this.#byPool.get(pool);
    if (series === undefined) return;
    series.carried.addPool(pool.stats().counters);
    series.pool = undefined;
    this.#byPool.delete(pool);
    if (this.#lastPool === pool) {
      this.#lastPool = undefined;
      this.#lastSeries = undefined;
    }
  }
}

/**
 * Trackers that aggregate in place, one per bucket layout, shared by every exporter in the
 * process through a global symbol (as the core shares its pool list), so that two exporters,
 * or two copies of one, subscribe once. The version in the key changes whenever this file's
 * shapes do: copies of different shapes then keep to themselves.
 */
const kSharedTrackers = Symbol.for("lifeguard.metrics.pool-series-trackers.v2");

const noServers: readonly ServerStats[] = Object.freeze([]);

/**
 * The process-wide tracker for these buckets. Call `retain()` to use it and `release()` when
 * done; when the last user releases it, it is dropped and the next exporter starts afresh.
 */
export function sharedPoolSeriesTracker(buckets: readonly number[]): PoolSeriesTracker {
  const holder = globalThis as { [kSharedTrackers]?: Map<string, PoolSeriesTracker> };
  holder[kSharedTrackers] ??= new Map();
  const trackers = holder[kSharedTrackers];
  const key = buckets.join(",");
  let tracker = trackers.get(key);
  if (tracker === undefined) {
    const created = new PoolSeriesTracker(buckets, undefined, () => {
      if (trackers.get(key) === created) trackers.delete(key);
    });
    tracker = created;
    trackers.set(key, tracker);
  }
  return tracker;
}
