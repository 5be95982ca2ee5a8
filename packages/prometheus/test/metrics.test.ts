import diagnosticsChannel from "node:diagnostics_channel";
import { destroyReasons } from "@lifeguard/core";
import type { OpenMetricsContentType } from "prom-client";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { LifeguardMetrics } from "../src/index.js";
import {
  defaultTimeBuckets,
  hostMetricNames,
  metricNames,
  registerLifeguardMetrics,
} from "../src/index.js";
import type { Exposition } from "./support/exposition.js";
import { buckets, parseExposition, sample } from "./support/exposition.js";
import type { ScriptedPool } from "./support/scripted-workload.js";
import { expected, runScriptedWorkload, scriptedPool } from "./support/scripted-workload.js";

let registry: Registry;
let metrics: LifeguardMetrics;
const opened: ScriptedPool[] = [];

beforeEach(() => {
  // leak detection with nobody on lifeguard:pool:leak warns (the exporter does not subscribe)
  vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
  registry = new Registry();
});

afterEach(async () => {
  metrics?.unregister();
  for (const { pool } of opened.splice(0)) await pool.close({ timeoutMillis: 0 });
  vi.restoreAllMocks();
});

function open(name: string, options: { min?: number } = {}): ScriptedPool {
  const scripted = scriptedPool(name, options);
  opened.push(scripted);
  return scripted;
}

async function scrape(): Promise<Exposition> {
  return parseExposition(await registry.metrics());
}

/** Cumulative counts per `le`, as the exposition shows them. */
function cumulative(values: readonly number[]): Map<string, number> {
  const result = new Map<string, number>();
  for (const bound of defaultTimeBuckets) {
    result.set(String(bound), values.filter((v) => v <= bound).length);
  }
  result.set("+Inf", values.length);
  return result;
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

describe("registerLifeguardMetrics", () => {
  it("reports every metric of a scripted workload (timeouts, a slow create, pings, leaks) exactly", async () => {
    metrics = registerLifeguardMetrics({ register: registry });
    const orders = open("orders");
    await runScriptedWorkload(orders);
    const text = await registry.metrics();
    const x = parseExposition(text);
    const pool = { pool_name: "orders" };

    // the OpenTelemetry connection-pool metrics
    expect(sample(x, "db_client_connection_count", { ...pool, state: "idle" })).toBe(expected.idle);
    expect(sample(x, "db_client_connection_count", { ...pool, state: "used" })).toBe(expected.used);
    expect(sample(x, "db_client_connection_idle_max", pool)).toBe(expected.max);
    expect(sample(x, "db_client_connection_idle_min", pool)).toBe(expected.min);
    expect(sample(x, "db_client_connection_max", pool)).toBe(expected.max);
    expect(sample(x, "db_client_connection_pending_requests", pool)).toBe(expected.pending);
    expect(sample(x, "db_client_connection_timeouts_total", pool)).toBe(expected.timeouts);
    for (const [name, values] of [
      ["db_client_connection_create_time_seconds", expected.createTimes],
      ["db_client_connection_wait_time_seconds", expected.waitTimes],
      ["db_client_connection_use_time_seconds", expected.useTimes],
    ] as const) {
      expect(buckets(x, name, pool), name).toEqual(cumulative(values));
      expect(sample(x, `${name}_count`, pool), name).toBe(values.length);
      expect(sample(x, `${name}_sum`, pool), name).toBeCloseTo(sum(values), 9);
    }
    // the slow create is the one in the 250 ms bucket
    expect(buckets(x, "db_client_connection_create_time_seconds", pool).get("0.1")).toBe(2);

    // Lifeguard's own
    for (const [result, count] of Object.entries(expected.prePings)) {
      expect(sample(x, "lifeguard_prepings_total", { ...pool, result }), result).toBe(count);
    }
    expect(sample(x, "lifeguard_resets_total", pool)).toBe(expected.resets);
    expect(sample(x, "lifeguard_rollbacks_on_release_total", pool)).toBe(expected.rollbacks);
    for (const reason of destroyReasons) {
      const count = (expected.evictions as Record<string, number>)[reason] ?? 0;
      expect(sample(x, "lifeguard_evictions_total", { ...pool, reason }), reason).toBe(count);
    }
    expect(sample(x, "lifeguard_leaks_total", pool)).toBe(expected.leaks);
    expect(sample(x, "lifeguard_connect_errors_total", pool)).toBe(expected.connectErrors);
    expect(sample(x, "lifeguard_connection_errors_total", pool)).toBe(expected.connectionErrors);
    for (const [reason, count] of [
      ["queue_full", expected.queueFull],
      ["unavailable", expected.unavailable],
      ["aborted", expected.aborted],
    ] as const) {
      expect(sample(x, "lifeguard_acquire_failures_total", { ...pool, reason }), reason).toBe(
        count,
      );
    }

    // the counters agree with the pool's own stats
    const stats = orders.pool.stats();
    expect(stats.counters.timeouts).toBe(expected.timeouts);
    expect(stats.counters.prePings).toEqual(expected.prePings);
    expect(stats.counters.leaks).toBe(expected.leaks);

    // every registered metric is in the text, with its type
    for (const name of metricNames) {
      const family = name.replace(/_total$/, "");
      const type = x.types.get(name) ?? x.types.get(family);
      expect(type, name).toBe(
        hostMetricNames.includes(name) // gauges, lag in seconds among them
          ? "gauge"
          : name.endsWith("_seconds")
            ? "histogram"
            : name.endsWith("_total")
              ? "counter"
              : "gauge",
      );
    }
  });

  it("uses buckets from sub-millisecond to seconds", async () => {
    metrics = registerLifeguardMetrics({ register: registry });
    const { pool } = open("buckets");
    (await pool.acquire()).release();
    const x = await scrape();
    const les = [
      ...buckets(x, "db_client_connection_wait_time_seconds", { pool_name: "buckets" }).keys(),
    ];
    expect(les).toEqual([...defaultTimeBuckets.map(String), "+Inf"]);
    expect(Number(les[0])).toBeLessThan(0.001);
    expect(Number(les.at(-2))).toBeGreaterThanOrEqual(10);
  });

  it("takes custom buckets and rejects bad ones", async () => {
    metrics = registerLifeguardMetrics({ register: registry, buckets: [0.001, 0.01, 1] });
    const { pool } = open("custom-buckets");
    (await pool.acquire()).release();
    const x = await scrape();
    expect([
      ...buckets(x, "db_client_connection_use_time_seconds", {
        pool_name: "custom-buckets",
      }).keys(),
    ]).toEqual(["0.001", "0.01", "1", "+Inf"]);
    expect(() => registerLifeguardMetrics({ register: new Registry(), buckets: [1, 0.5] })).toThrow(
      /increasing/,
    );
  });

  it("tells pools apart by pool_name, including pools created before and after registering", async () => {
    const early = open("early", { min: 1 });
    await early.pool.warmup();
    metrics = registerLifeguardMetrics({ register: registry });
    const late = open("late");
    (await late.pool.acquire()).release();
    const x = await scrape();
    expect(sample(x, "db_client_connection_count", { pool_name: "early", state: "idle" })).toBe(1);
    expect(sample(x, "db_client_connection_count", { pool_name: "late", state: "idle" })).toBe(1);
    // durations are seen from the moment of registering: early's connection was opened before
    expect(
      sample(x, "db_client_connection_create_time_seconds_count", { pool_name: "early" }),
    ).toBe(0);
    expect(sample(x, "db_client_connection_create_time_seconds_count", { pool_name: "late" })).toBe(
      1,
    );
    // but counters come from the pool's own totals, so they include what happened before
    expect(sample(x, "lifeguard_prepings_total", { pool_name: "early", result: "bypassed" })).toBe(
      0,
    );
  });

  it("keeps two open pools with the same name apart (name, name#2) instead of merging them", async () => {
    metrics = registerLifeguardMetrics({ register: registry });
    const a = open("twin");
    const b = open("twin");
    (await a.pool.acquire()).release();
    const held = await b.pool.acquire();
    const x = await scrape();
    expect(sample(x, "db_client_connection_count", { pool_name: "twin", state: "idle" })).toBe(1);
    expect(sample(x, "db_client_connection_count", { pool_name: "twin#2", state: "used" })).toBe(1);
    expect(sample(x, "db_client_connection_use_time_seconds_count", { pool_name: "twin" })).toBe(1);
    expect(sample(x, "db_client_connection_use_time_seconds_count", { pool_name: "twin#2" })).toBe(
      0,
    );
    // the core warned about the duplicate name
    expect(process.emitWarning).toHaveBeenCalledWith(
      expect.stringContaining('"twin"'),
      expect.objectContaining({ code: "LIFEGUARD_DUPLICATE_POOL_NAME" }),
    );
    held.release();
  });

  it("keeps a closed pool's counters, drops its gauges, and continues them when the name returns", async () => {
    metrics = registerLifeguardMetrics({ register: registry });
    const first = open("recycled");
    await runScriptedWorkload(first);
    await first.pool.close();
    let x = await scrape();
    const pool = { pool_name: "recycled" };
    expect(
      x.samples.some(
        (s) => s.name === "db_client_connection_count" && s.labels["pool_name"] === "recycled",
      ),
    ).toBe(false);
    expect(sample(x, "db_client_connection_timeouts_total", pool)).toBe(expected.timeouts);
    expect(sample(x, "lifeguard_evictions_total", { ...pool, reason: "shutdown" })).toBe(1);
    expect(sample(x, "db_client_connection_wait_time_seconds_count", pool)).toBe(
      expected.waitTimes.length,
    );

    // the application re-creates the pool under the same name: same series, counters carry on
    const second = open("recycled");
    await runScriptedWorkload(second);
    x = await scrape();
    expect(sample(x, "db_client_connection_count", { ...pool, state: "idle" })).toBe(expected.idle);
    expect(sample(x, "db_client_connection_timeouts_total", pool)).toBe(2 * expected.timeouts);
    expect(sample(x, "lifeguard_resets_total", pool)).toBe(2 * expected.resets);
    expect(sample(x, "db_client_connection_wait_time_seconds_count", pool)).toBe(
      2 * expected.waitTimes.length,
    );
    expect(x.samples.some((s) => s.labels["pool_name"] === "recycled#2")).toBe(false);
  });

  it("does not subscribe to leak events, so the core's leak warning still reaches the process", () => {
    metrics = registerLifeguardMetrics({ register: registry });
    expect(diagnosticsChannel.channel("lifeguard:pool:leak").hasSubscribers).toBe(false);
    expect(diagnosticsChannel.channel("lifeguard:connection:acquire").hasSubscribers).toBe(true);
  });

  it("unregister() removes the metrics and unsubscribes; registering twice on one registry throws", async () => {
    metrics = registerLifeguardMetrics({ register: registry });
    expect(() => registerLifeguardMetrics({ register: registry })).toThrow(/already registered/);
    metrics.unregister();
    metrics.unregister(); // idempotent
    expect(registry.getMetricsAsArray()).toHaveLength(0);
    expect(diagnosticsChannel.channel("lifeguard:connection:acquire").hasSubscribers).toBe(false);
    // and a fresh registration works again
    metrics = registerLifeguardMetrics({ register: registry });
    expect(registry.getMetricsAsArray()).toHaveLength(metricNames.length);
  });

  it("shares one set of histograms between registrations, and starts afresh after the last goes", async () => {
    metrics = registerLifeguardMetrics({ register: registry });
    const second = new Registry();
    const other = registerLifeguardMetrics({ register: second });
    const { pool } = open("shared");
    (await pool.acquire()).release();
    const waits = async (r: Registry) =>
      sample(parseExposition(await r.metrics()), "db_client_connection_wait_time_seconds_count", {
        pool_name: "shared",
      });
    expect(await waits(registry)).toBe(1);
    expect(await waits(second)).toBe(1);
    // one registration going away leaves the other counting
    other.unregister();
    (await pool.acquire()).release();
    expect(await waits(registry)).toBe(2);
    // the last one going away unsubscribes; a new registration starts from zero
    metrics.unregister();
    (await pool.acquire()).release();
    metrics = registerLifeguardMetrics({ register: registry });
    expect(await waits(registry)).toBe(0);
  });

  it("works with an OpenMetrics registry", async () => {
    const openMetrics = new Registry<OpenMetricsContentType>();
    openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const handle = registerLifeguardMetrics({ register: openMetrics });
    try {
      const { pool } = open("om");
      (await pool.acquire()).release();
      const text = await openMetrics.metrics();
      expect(text).toContain('lifeguard_leaks_total{pool_name="om"} 0');
      expect(text).toContain('db_client_connection_wait_time_seconds_count{pool_name="om"} 1');
      expect(text.trimEnd().endsWith("# EOF")).toBe(true);
      handle.unregister();
      expect(openMetrics.getMetricsAsArray()).toHaveLength(0);
    } finally {
      handle.unregister();
    }
  });

  it("reads the pools once per scrape, not once per metric", async () => {
    metrics = registerLifeguardMetrics({ register: registry });
    const { pool } = open("once");
    const stats = vi.spyOn(pool, "stats");
    await registry.metrics();
    expect(stats).toHaveBeenCalledTimes(1);
    await registry.getMetricsAsJSON();
    expect(stats).toHaveBeenCalledTimes(2);
  });
});
