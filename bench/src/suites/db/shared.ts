/**
 * What the database suites (pg, pg-1ms, churn, idle-memory, recovery) share: the server, the pool
 * size, the metrics subscriber Lifeguard runs with, and the construction warm-up.
 */
import diagnosticsChannel from "node:diagnostics_channel";
import type { ConnectionAcquireEvent, ConnectionReleaseEvent } from "@lifeguard/core";
import { channelNames } from "@lifeguard/core";
import { startBenchDatabase } from "../../framework/database.js";
import type { LatencyHistogram } from "../../framework/latency.js";
import type { Throughput, Worker } from "../../framework/throughput.js";
import { measureThroughput } from "../../framework/throughput.js";
import type { Contender, Metric, Sample, SuiteSetup } from "../../framework/types.js";

/** Handed to every contender: where the database is. */
export interface DbState {
  readonly url: string;
}

/** Pool size of every pool, and the number of raw pre-opened clients. */
export const POOL_SIZE = 10;

/** `setup` of every database suite: DATABASE_URL, else an embedded server for the suite's run. */
export async function setupDb(): Promise<SuiteSetup<DbState>> {
  const db = await startBenchDatabase();
  return {
    state: { url: db.url },
    environment: { PostgreSQL: db.description },
    teardown: () => db.stop(),
  };
}

/**
 * `measureThroughput` (see there), plus the CPU time this process used meanwhile (user + system,
 * all threads: the loops, the pool, the driver, V8's collector and compiler threads).
 */
export async function measureQueries(
  concurrency: number,
  durationMillis: number,
  worker: Worker,
): Promise<{ result: Throughput; cpuMicros: number }> {
  const cpu = process.cpuUsage();
  const result = await measureThroughput(concurrency, durationMillis, worker);
  const used = process.cpuUsage(cpu);
  return { result, cpuMicros: used.user + used.system };
}

/** Throughput, latency percentiles and client CPU per query of one sample. */
export function throughputSample(
  measured: { result: Throughput; cpuMicros: number },
  latency: LatencyHistogram,
): Sample {
  return {
    queriesPerSecond: measured.result.perSecond,
    p50: latency.percentile(0.5),
    p99: latency.percentile(0.99),
    cpuPerQuery: measured.cpuMicros / measured.result.operations,
  };
}

/** The metrics of the throughput suites: the first is the primary one (ratios, targets, chart). */
export const throughputMetrics: readonly Metric[] = [
  { key: "queriesPerSecond", label: "queries/s", better: "higher", format: "si" },
  { key: "p50", label: "p50 latency", better: "lower", format: "fixed", decimals: 3, unit: " ms" },
  { key: "p99", label: "p99 latency", better: "lower", format: "fixed", decimals: 3, unit: " ms" },
  {
    key: "cpuPerQuery",
    label: "client CPU per query",
    better: "lower",
    format: "fixed",
    decimals: 1,
    unit: " µs",
  },
];

/** How the metrics are measured, for the suites' descriptions. */
export const THROUGHPUT_METRICS_NOTE =
  "**queries/s** counts completed queries over all loops. The latencies are per query as its loop " +
  "saw it (waiting for a connection included), from a log-bucketed histogram (±0.6%). **client CPU " +
  "per query** is the CPU time (user + system, all threads) the contender's process used during the " +
  "round ÷ the queries it completed: the pool's and the driver's cost per query, which, unlike " +
  "throughput, hardly moves with the machine's load.";

// -------------------------------------------------------------------------------------------------
// "metrics on"

/** What the subscriber does: trivial work that reads each payload (as in the core suite). */
let observed = 0;
const onAcquire = (message: unknown) => {
  observed += (message as ConnectionAcquireEvent).connectionId;
};
const onRelease = (message: unknown) => {
  observed += (message as ConnectionReleaseEvent).useMillis > 1e9 ? 1 : 0;
};
let subscribed = false;

/**
 * Subscribes to `lifeguard:connection:acquire` and `:release` once per process and stays
 * subscribed, as an application's metrics would (subscribing per sample would flip the channels
 * between their inactive and active classes every time).
 */
export function subscribeMetrics(): void {
  if (subscribed) return;
  diagnosticsChannel.subscribe(channelNames.connectionAcquire, onAcquire);
  diagnosticsChannel.subscribe(channelNames.connectionRelease, onRelease);
  subscribed = true;
}

/** Keeps the subscriber's work observable so it is not optimised away. */
export function observedByMetrics(): number {
  return observed;
}

export const METRICS_NOTE =
  "a `diagnostics_channel` subscriber on `lifeguard:connection:acquire` and `lifeguard:connection:release` that reads each payload";

// -------------------------------------------------------------------------------------------------

/** Pools each contender builds, exercises and closes while warming up. */
export const CONSTRUCTION_WARMUP_POOLS = 8;

/**
 * As in the core suite (see `withConstructionWarmup` there): every sample builds a fresh pool, and
 * V8 finishes in-object slack tracking of a class after its 7th instance, throwing away code
 * optimized before. So the warm-up sample first builds, exercises (for `millis`) and closes 8 pools,
 * for every contender alike, and only then runs the (discarded) warm-up sample itself.
 */
export function withConstructionWarmup<P, S>(
  contender: Contender<P, S>,
  millis = 20,
): Contender<P, S> {
  return {
    ...contender,
    async run(params, context) {
      if (context.warmup) {
        for (let i = 0; i < CONSTRUCTION_WARMUP_POOLS; i++) {
          await contender.run(params, { ...context, durationMillis: millis });
        }
      }
      return contender.run(params, context);
    },
  };
}
