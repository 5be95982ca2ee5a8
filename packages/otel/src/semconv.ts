import type { DestroyReason } from "@lifeguard/core";
import { destroyReasons } from "@lifeguard/core";
import type { SeriesSnapshot } from "@lifeguard/core/internal";
import type { Attributes } from "@opentelemetry/api";
import { observeHosts } from "./host-semconv.js";

/** `db.client.connection.pool.name`: on every point. */
export const ATTR_POOL_NAME = "db.client.connection.pool.name";
/** `db.client.connection.state`: `idle` or `used`, on `db.client.connection.count`. */
export const ATTR_STATE = "db.client.connection.state";
/** `lifeguard.preping.result`: `ok`, `failed`, `timeout` or `bypassed`, on `lifeguard.prepings`. */
export const ATTR_PREPING_RESULT = "lifeguard.preping.result";
/** `lifeguard.eviction.reason`: why the pool closed a connection, on `lifeguard.evictions`. */
export const ATTR_EVICTION_REASON = "lifeguard.eviction.reason";
/** `lifeguard.acquire.failure.reason`: `queue_full`, `unavailable` or `aborted`. */
export const ATTR_ACQUIRE_FAILURE_REASON = "lifeguard.acquire.failure.reason";

/** The instrumentation scope of every Lifeguard metric. */
export const SCOPE_NAME = "@lifeguard/otel";

type PrePingResult = "ok" | "failed" | "timeout" | "bypassed";
type AcquireFailure = "queue_full" | "unavailable" | "aborted";
const prePingResults: readonly PrePingResult[] = ["ok", "failed", "timeout", "bypassed"];
const acquireFailures: readonly AcquireFailure[] = ["queue_full", "unavailable", "aborted"];

/** The attribute sets of one series, built once per pool name and never mutated. @internal */
export interface SeriesAttributes {
  readonly pool: Attributes;
  readonly idle: Attributes;
  readonly used: Attributes;
  readonly prePing: Readonly<Record<PrePingResult, Attributes>>;
  readonly eviction: Readonly<Record<DestroyReason, Attributes>>;
  readonly acquireFailure: Readonly<Record<AcquireFailure, Attributes>>;
}

/** @internal */
export function attributesFor(label: string): SeriesAttributes {
  const pool = Object.freeze({ [ATTR_POOL_NAME]: label });
  const with_ = (key: string, value: string): Attributes =>
    Object.freeze({ ...pool, [key]: value });
  return {
    pool,
    idle: with_(ATTR_STATE, "idle"),
    used: with_(ATTR_STATE, "used"),
    prePing: Object.fromEntries(
      prePingResults.map((r) => [r, with_(ATTR_PREPING_RESULT, r)]),
    ) as SeriesAttributes["prePing"],
    eviction: Object.fromEntries(
      destroyReasons.map((r) => [r, with_(ATTR_EVICTION_REASON, r)]),
    ) as SeriesAttributes["eviction"],
    acquireFailure: Object.fromEntries(
      acquireFailures.map((r) => [r, with_(ATTR_ACQUIRE_FAILURE_REASON, r)]),
    ) as SeriesAttributes["acquireFailure"],
  };
}

/** Reports one point: an attribute set and its value. @internal */
export type Emit = (attributes: Attributes, value: number) => void;

/** An instrument observed at collection time, from the pools' `stats()` and the series' totals. @internal */
export interface ObservedMetric {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  /**
   * `updowncounter`: a level (non-monotonic sum); `counter`: a running total; `gauge`: a state
   * that is not summed (a host's lag, whether it is up).
   */
  readonly kind: "updowncounter" | "counter" | "gauge";
  /** `double` for fractional values (seconds); integers otherwise. */
  readonly valueType?: "double";
  /** Its attribute sets come and go (a host's role changes): see host-attribute-sets.ts. */
  readonly attributesChange?: true;
  readonly observe: (snapshot: SeriesSnapshot, attributes: SeriesAttributes, emit: Emit) => void;
}

/** A histogram of durations in seconds, fed by the channels. @internal */
export interface TimeMetric {
  readonly name: string;
  readonly description: string;
  readonly unit: "s";
  readonly histogram: "waitTime" | "useTime" | "createTime";
}

/** A level of an open pool; nothing once no open pool uses the name. */
function level(
  name: string,
  description: string,
  unit: string,
  read: (stats: NonNullable<SeriesSnapshot["stats"]>, a: SeriesAttributes, emit: Emit) => void,
): ObservedMetric {
  return {
    name,
    description,
    unit,
    kind: "updowncounter",
    observe: ({ stats }, attributes, emit) => {
      if (stats !== undefined) read(stats, attributes, emit);
    },
  };
}

/**
 * The OpenTelemetry database connection-pool metrics (semantic conventions, "Connection pools"),
 * then Lifeguard's own. Names, instrument kinds and units follow the conventions; see
 * docs/metrics.md for what each means here.
 * @internal
 */
export const observedMetrics: readonly ObservedMetric[] = [
  level(
    "db.client.connection.count",
    "The number of connections that are currently in state described by the state attribute (idle: ready to lend; used: lent, being pre-pinged, or being cleaned after release).",
    "{connection}",
    (stats, a, emit) => {
      emit(a.idle, stats.idle);
      emit(a.used, stats.used);
    },
  ),
  level(
    "db.client.connection.idle.max",
    "The maximum number of idle open connections allowed (Lifeguard lets every connection up to max be idle).",
    "{connection}",
    (stats, a, emit) => emit(a.pool, stats.max),
  ),
  level(
    "db.client.connection.idle.min",
    "The minimum number of idle open connections allowed (the pool's min: opened at start and kept open).",
    "{connection}",
    (stats, a, emit) => emit(a.pool, stats.min),
  ),
  level(
    "db.client.connection.max",
    "The maximum number of open connections allowed.",
    "{connection}",
    (stats, a, emit) => emit(a.pool, stats.max),
  ),
  level(
    "db.client.connection.pending_requests",
    "The number of current pending requests for an open connection.",
    "{request}",
    (stats, a, emit) => emit(a.pool, stats.pending),
  ),
  {
    name: "db.client.connection.timeouts",
    description:
      "The number of connection timeouts that have occurred trying to obtain a connection from the pool.",
    unit: "{timeout}",
    kind: "counter",
    observe: ({ counters }, a, emit) => emit(a.pool, counters.timeouts),
  },
  {
    name: "lifeguard.prepings",
    description:
      "Pre-ping checks by result: ok, failed and timeout are round trips; bypassed borrows skipped the round trip (used within the bypass window).",
    unit: "{check}",
    kind: "counter",
    observe: ({ counters }, a, emit) => {
      const r = a.prePing;
      emit(r.ok, counters.prePingOk);
      emit(r.failed, counters.prePingFailed);
      emit(r.timeout, counters.prePingTimeout);
      emit(r.bypassed, counters.prePingBypassed);
    },
  },
  {
    name: "lifeguard.resets",
    description:
      "Sessions reset on release (resetQuery, e.g. DISCARD ALL) because the borrower changed session state.",
    unit: "{reset}",
    kind: "counter",
    observe: ({ counters }, a, emit) => emit(a.pool, counters.resets),
  },
  {
    name: "lifeguard.rollbacks_on_release",
    description: "Transactions the borrower left open, rolled back on release.",
    unit: "{rollback}",
    kind: "counter",
    observe: ({ counters }, a, emit) => emit(a.pool, counters.rollbacks),
  },
  {
    name: "lifeguard.evictions",
    description: "Connections closed by the pool, by reason.",
    unit: "{connection}",
    kind: "counter",
    observe: ({ counters }, a, emit) => {
      for (const reason of destroyReasons) {
        emit(a.eviction[reason], counters.evictions[reason]);
      }
    },
  },
  {
    name: "lifeguard.leaks",
    description: "Leases held longer than leakDetectionThresholdMillis.",
    unit: "{lease}",
    kind: "counter",
    observe: ({ counters }, a, emit) => emit(a.pool, counters.leaks),
  },
  {
    name: "lifeguard.connect_errors",
    description: "Failed attempts to open a connection.",
    unit: "{error}",
    kind: "counter",
    observe: ({ counters }, a, emit) => emit(a.pool, counters.connectErrors),
  },
  {
    name: "lifeguard.connection_errors",
    description:
      "Errors reported by idle connections (the backend died or the network dropped); each such connection is replaced.",
    unit: "{error}",
    kind: "counter",
    observe: ({ counters }, a, emit) => emit(a.pool, counters.connectionErrors),
  },
  {
    name: "lifeguard.acquire_failures",
    description:
      "Acquires rejected without waiting out their deadline: queue_full (maxWaiting), unavailable (the database cannot be reached, fail-fast) or aborted (the caller's signal). Timeouts are db.client.connection.timeouts.",
    unit: "{request}",
    kind: "counter",
    observe: ({ counters }, a, emit) => {
      const r = a.acquireFailure;
      emit(r.queue_full, counters.queueFull);
      emit(r.unavailable, counters.unavailable);
      emit(r.aborted, counters.aborts);
    },
  },
  // per host, for a pool spread over several (cluster mode): nothing for a single-host pool
  {
    name: "lifeguard.host.connection.count",
    attributesChange: true,
    description:
      "A multi-host pool's open connections by host (server.address, server.port, lifeguard.host.role) and state (idle, used); per pool, they add up to db.client.connection.count.",
    unit: "{connection}",
    kind: "updowncounter",
    observe: (snapshot, a, emit) =>
      observeHosts(snapshot, a.pool, emit, (server, host, point) => {
        point({ ...host, [ATTR_STATE]: "idle" }, server.idle);
        point({ ...host, [ATTR_STATE]: "used" }, server.used);
      }),
  },
  {
    name: "lifeguard.host.up",
    attributesChange: true,
    description:
      "1 when the host answered and its role is known (primary or standby), 0 when its connects fail (down) or it was not reached yet (unknown); as the pool sees it.",
    unit: "1",
    kind: "gauge",
    observe: (snapshot, a, emit) =>
      observeHosts(snapshot, a.pool, emit, (server, host, point) => point(host, server.up ? 1 : 0)),
  },
  {
    name: "lifeguard.host.replica_lag",
    attributesChange: true,
    description:
      "A standby's replay lag at the last recheck (measured only with maxReplicaLagMillis).",
    unit: "s",
    kind: "gauge",
    valueType: "double",
    observe: (snapshot, a, emit) =>
      observeHosts(snapshot, a.pool, emit, (server, host, point) => {
        if (server.lagSeconds !== undefined) point(host, server.lagSeconds);
      }),
  },
  {
    name: "lifeguard.host.connect_failures",
    attributesChange: true,
    description:
      "Consecutive failed connects to the host (0 once it answers again); the host is skipped during its back-off.",
    unit: "{failure}",
    kind: "gauge",
    observe: (snapshot, a, emit) =>
      observeHosts(snapshot, a.pool, emit, (server, host, point) =>
        point(host, server.connectFailures),
      ),
  },
];

/** The metrics reported per host of a multi-host pool (none for a single-host pool). */
export const hostMetricNames: readonly string[] = Object.freeze([
  "lifeguard.host.connection.count",
  "lifeguard.host.up",
  "lifeguard.host.replica_lag",
  "lifeguard.host.connect_failures",
]);

/** @internal */
export const timeMetrics: readonly TimeMetric[] = [
  {
    name: "db.client.connection.create_time",
    description: "The time it took to create a new connection.",
    unit: "s",
    histogram: "createTime",
  },
  {
    name: "db.client.connection.wait_time",
    description: "The time it took to obtain an open connection from the pool.",
    unit: "s",
    histogram: "waitTime",
  },
  {
    name: "db.client.connection.use_time",
    description: "The time between borrowing a connection and returning it to the pool.",
    unit: "s",
    histogram: "useTime",
  },
];

/** Every metric name this package reports. */
export const metricNames: readonly string[] = Object.freeze([
  ...observedMetrics.filter((m) => m.name.startsWith("db.")).map((m) => m.name),
  ...timeMetrics.map((m) => m.name),
  ...observedMetrics.filter((m) => !m.name.startsWith("db.")).map((m) => m.name),
]);

/** Attribute sets by series label, built once per pool name. @internal */
export function attributeCache(): (label: string) => SeriesAttributes {
  const cache = new Map<string, SeriesAttributes>();
  return (label) => {
    let attributes = cache.get(label);
    if (attributes === undefined) {
      attributes = attributesFor(label);
      cache.set(label, attributes);
    }
    return attributes;
  };
}
