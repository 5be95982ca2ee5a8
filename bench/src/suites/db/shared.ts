/**
 * What the database suites (pg, pg-1ms, churn, idle-memory, recovery) share: the server, the pool
 * size, the metrics subscriber Lifeguard runs with, and the construction warm-up.
 */
import { startBenchDatabase } from "../../framework/database.js";
import { LatencyHistogram } from "../../framework/latency.js";
import { measureThroughput } from "../../framework/throughput.js";
import type { Metric, Sample, SuiteSetup } from "../../framework/types.js";

export { subscribeMetrics } from "../common/subscriber.js";

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

/** Opens `connections` of a pg-style pool's connections (before the clock starts), all idle again after. */
export async function prefillPool(
  pool: { connect(): Promise<{ release(): void }> },
  connections = POOL_SIZE,
): Promise<void> {
  const clients = await Promise.all(Array.from({ length: connections }, () => pool.connect()));
  for (const client of clients) client.release();
}

/**
 * One throughput sample: `concurrency` closed loops for `durationMillis` (see `measureThroughput`),
 * each recording its queries' latencies in the sample's histogram. Returns queries/s, p50, p99 and
 * the CPU time this process used meanwhile per query (user + system, all threads: the loops, the
 * pool, the driver, V8's collector and compiler threads).
 */
export async function measureQueryLoops(
  concurrency: number,
  durationMillis: number,
  loop: (stopAt: number, latency: LatencyHistogram) => Promise<number>,
): Promise<Sample> {
  const latency = new LatencyHistogram();
  const cpu = process.cpuUsage();
  const result = await measureThroughput(concurrency, durationMillis, (stopAt) =>
    loop(stopAt, latency),
  );
  const used = process.cpuUsage(cpu);
  return {
    queriesPerSecond: result.perSecond,
    p50: latency.percentile(0.5),
    p99: latency.percentile(0.99),
    cpuPerQuery: (used.user + used.system) / result.operations,
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

/** What "metrics on" (`subscribeMetrics()`) is, for the contenders' notes. */
export const METRICS_NOTE =
  "a `diagnostics_channel` subscriber on `lifeguard:connection:acquire` and `lifeguard:connection:release` that reads each payload";
