import diagnosticsChannel from "node:diagnostics_channel";
import { destroyReasons } from "@lifeguard/core";
import { ValueType } from "@opentelemetry/api";
import type { MetricData } from "@opentelemetry/sdk-metrics";
import { AggregationTemporality, DataPointType } from "@opentelemetry/sdk-metrics";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
// the same script and expected numbers as @lifeguard/prometheus's tests
import type { ScriptedPool } from "../../prometheus/test/support/scripted-workload.js";
import {
  expected,
  runScriptedWorkload,
  scriptedPool,
} from "../../prometheus/test/support/scripted-workload.js";
import { defaultTimeBuckets, hostMetricNames, metricNames } from "../src/index.js";
import type { Mode, Pipeline } from "./support/collect.js";
import { attributeSets, histogramPoint, metric, pipeline, sumPoint } from "./support/collect.js";

const opened: ScriptedPool[] = [];
const pipelines: Pipeline[] = [];

beforeEach(() => {
  // leak detection with nobody on lifeguard:pool:leak warns (the exporter does not subscribe)
  vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
});

afterEach(async () => {
  for (const p of pipelines.splice(0)) await p.shutdown();
  for (const { pool } of opened.splice(0)) await pool.close({ timeoutMillis: 0 });
  vi.restoreAllMocks();
});

function open(name: string, options: { min?: number } = {}): ScriptedPool {
  const scripted = scriptedPool(name, options);
  opened.push(scripted);
  return scripted;
}

function attach(mode: Mode): Pipeline {
  const p = pipeline(mode);
  pipelines.push(p);
  return p;
}

const POOL = "db.client.connection.pool.name";
const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

/** Per-bucket (not cumulative) counts over `bounds`, as OpenTelemetry reports them. */
function bucketCounts(values: readonly number[], bounds: readonly number[]): number[] {
  const counts = new Array<number>(bounds.length + 1).fill(0);
  for (const v of values) {
    const i = bounds.findIndex((b) => v <= b);
    counts[i === -1 ? bounds.length : i] = (counts[i === -1 ? bounds.length : i] as number) + 1;
  }
  return counts;
}

const conventions: Record<
  string,
  { type: "updowncounter" | "counter" | "histogram"; unit: string }
> = {
  "db.client.connection.count": { type: "updowncounter", unit: "{connection}" },
  "db.client.connection.idle.max": { type: "updowncounter", unit: "{connection}" },
  "db.client.connection.idle.min": { type: "updowncounter", unit: "{connection}" },
  "db.client.connection.max": { type: "updowncounter", unit: "{connection}" },
  "db.client.connection.pending_requests": { type: "updowncounter", unit: "{request}" },
  "db.client.connection.timeouts": { type: "counter", unit: "{timeout}" },
  "db.client.connection.create_time": { type: "histogram", unit: "s" },
  "db.client.connection.wait_time": { type: "histogram", unit: "s" },
  "db.client.connection.use_time": { type: "histogram", unit: "s" },
};

function kindOf(m: MetricData): "updowncounter" | "counter" | "histogram" | "other" {
  if (m.dataPointType === DataPointType.HISTOGRAM) return "histogram";
  if (m.dataPointType === DataPointType.SUM) return m.isMonotonic ? "counter" : "updowncounter";
  return "other";
}

describe.each<Mode>(["instrumentLifeguard", "createLifeguardMetricProducer"])("%s", (mode) => {
  it("reports every metric of a scripted workload (a timeout, a slow create, pings, leaks) exactly", async () => {
    const p = attach(mode);
    const orders = open("orders");
    await runScriptedWorkload(orders);
    const metrics = await p.collect();
    const pool = { [POOL]: "orders" };

    // names, instrument kinds and units of the semantic conventions
    for (const [name, convention] of Object.entries(conventions)) {
      const m = metric(metrics, name);
      expect(kindOf(m), name).toBe(convention.type);
      expect(m.descriptor.unit, name).toBe(convention.unit);
      expect(m.aggregationTemporality, name).toBe(AggregationTemporality.CUMULATIVE);
      expect(m.descriptor.valueType, name).toBe(
        convention.type === "histogram" ? ValueType.DOUBLE : ValueType.INT,
      );
      // every point carries the pool name
      for (const set of attributeSets(m)) expect(set, name).toContain(`${POOL}=orders`);
    }
    expect(attributeSets(metric(metrics, "db.client.connection.count"))).toEqual([
      `${POOL}=orders,db.client.connection.state=idle`,
      `${POOL}=orders,db.client.connection.state=used`,
    ]);

    expect(
      sumPoint(metrics, "db.client.connection.count", {
        ...pool,
        "db.client.connection.state": "idle",
      }),
    ).toBe(expected.idle);
    expect(
      sumPoint(metrics, "db.client.connection.count", {
        ...pool,
        "db.client.connection.state": "used",
      }),
    ).toBe(expected.used);
    expect(sumPoint(metrics, "db.client.connection.idle.max", pool)).toBe(expected.max);
    expect(sumPoint(metrics, "db.client.connection.idle.min", pool)).toBe(expected.min);
    expect(sumPoint(metrics, "db.client.connection.max", pool)).toBe(expected.max);
    expect(sumPoint(metrics, "db.client.connection.pending_requests", pool)).toBe(expected.pending);
    expect(sumPoint(metrics, "db.client.connection.timeouts", pool)).toBe(expected.timeouts);
    for (const [name, values] of [
      ["db.client.connection.create_time", expected.createTimes],
      ["db.client.connection.wait_time", expected.waitTimes],
      ["db.client.connection.use_time", expected.useTimes],
    ] as const) {
      const h = histogramPoint(metrics, name, pool);
      expect(h.buckets.boundaries, name).toEqual([...defaultTimeBuckets]);
      expect(h.buckets.counts, name).toEqual(bucketCounts(values, defaultTimeBuckets));
      expect(h.count, name).toBe(values.length);
      expect(h.sum, name).toBeCloseTo(sum(values), 9);
      expect(h.min, name).toBeCloseTo(Math.min(...values), 9);
      expect(h.max, name).toBeCloseTo(Math.max(...values), 9);
    }
    // the slow create: 250 ms, alone in its bucket
    expect(histogramPoint(metrics, "db.client.connection.create_time", pool).max).toBeCloseTo(
      0.25,
      9,
    );

    // Lifeguard's own
    for (const [result, count] of Object.entries(expected.prePings)) {
      expect(
        sumPoint(metrics, "lifeguard.prepings", { ...pool, "lifeguard.preping.result": result }),
        result,
      ).toBe(count);
    }
    expect(sumPoint(metrics, "lifeguard.resets", pool)).toBe(expected.resets);
    expect(sumPoint(metrics, "lifeguard.rollbacks_on_release", pool)).toBe(expected.rollbacks);
    for (const reason of destroyReasons) {
      const count = (expected.evictions as Record<string, number>)[reason] ?? 0;
      expect(
        sumPoint(metrics, "lifeguard.evictions", { ...pool, "lifeguard.eviction.reason": reason }),
        reason,
      ).toBe(count);
    }
    expect(sumPoint(metrics, "lifeguard.leaks", pool)).toBe(expected.leaks);
    expect(sumPoint(metrics, "lifeguard.connect_errors", pool)).toBe(expected.connectErrors);
    expect(sumPoint(metrics, "lifeguard.connection_errors", pool)).toBe(expected.connectionErrors);
    for (const [reason, count] of [
      ["queue_full", expected.queueFull],
      ["unavailable", expected.unavailable],
      ["aborted", expected.aborted],
    ] as const) {
      expect(
        sumPoint(metrics, "lifeguard.acquire_failures", {
          ...pool,
          "lifeguard.acquire.failure.reason": reason,
        }),
        reason,
      ).toBe(count);
    }
    // the per-host metrics report only multi-host pools (test/hosts.test.ts)
    expect(metrics.map((m) => m.descriptor.name).sort()).toEqual(
      metricNames.filter((n) => !hostMetricNames.includes(n)).sort(),
    );
  });

  it("reports pools created before and after attaching, and keeps same-named pools apart", async () => {
    const early = open("early", { min: 1 });
    await early.pool.warmup();
    const p = attach(mode);
    const twinA = open("twin");
    const twinB = open("twin");
    (await twinA.pool.acquire()).release();
    const held = await twinB.pool.acquire();
    const metrics = await p.collect();
    const state = "db.client.connection.state";
    expect(
      sumPoint(metrics, "db.client.connection.count", { [POOL]: "early", [state]: "idle" }),
    ).toBe(1);
    expect(
      sumPoint(metrics, "db.client.connection.count", { [POOL]: "twin", [state]: "idle" }),
    ).toBe(1);
    expect(
      sumPoint(metrics, "db.client.connection.count", { [POOL]: "twin#2", [state]: "used" }),
    ).toBe(1);
    expect(histogramPoint(metrics, "db.client.connection.use_time", { [POOL]: "twin" }).count).toBe(
      1,
    );
    held.release();
  });

  it("keeps a closed pool's counters and histograms, drops its levels, and continues when the name returns", async () => {
    const p = attach(mode);
    const first = open("recycled");
    await runScriptedWorkload(first);
    await first.pool.close();
    let metrics = await p.collect();
    const pool = { [POOL]: "recycled" };
    expect(() => sumPoint(metrics, "db.client.connection.max", pool)).toThrow(/0 points|0 metrics/);
    expect(sumPoint(metrics, "db.client.connection.timeouts", pool)).toBe(expected.timeouts);
    expect(
      sumPoint(metrics, "lifeguard.evictions", {
        ...pool,
        "lifeguard.eviction.reason": "shutdown",
      }),
    ).toBe(1);
    const second = open("recycled");
    await runScriptedWorkload(second);
    metrics = await p.collect();
    expect(sumPoint(metrics, "db.client.connection.timeouts", pool)).toBe(2 * expected.timeouts);
    expect(histogramPoint(metrics, "db.client.connection.wait_time", pool).count).toBe(
      2 * expected.waitTimes.length,
    );
    expect(sumPoint(metrics, "db.client.connection.max", pool)).toBe(expected.max);
  });

  it("unsubscribe() stops following the pools", async () => {
    const p = attach(mode);
    const { pool } = open("stopped");
    (await pool.acquire()).release();
    expect(diagnosticsChannel.channel("lifeguard:connection:acquire").hasSubscribers).toBe(true);
    p.handle.unsubscribe();
    p.handle.unsubscribe(); // idempotent
    expect(diagnosticsChannel.channel("lifeguard:connection:acquire").hasSubscribers).toBe(false);
    (await pool.acquire()).release();
    const metrics = await p.collect();
    // nothing observed any more; histogram points already recorded may stay with the SDK
    expect(metrics.some((m) => m.descriptor.name === "db.client.connection.count")).toBe(false);
    const waits = metrics.find((m) => m.descriptor.name === "db.client.connection.wait_time");
    if (waits !== undefined) {
      expect(
        histogramPoint(metrics, "db.client.connection.wait_time", { [POOL]: "stopped" }).count,
      ).toBe(1);
    }
  });
});

/** Histogram sums to 1e-9 s: one side adds seconds, the other milliseconds. */
function rounded(value: unknown): unknown {
  if (typeof value !== "object" || value === null || !("sum" in value)) return value;
  return { ...value, sum: Math.round((value.sum as number) * 1e9) / 1e9 };
}

describe("both ways", () => {
  it("report the same metrics: names, kinds, units, attributes and values", async () => {
    const viaMeter = attach("instrumentLifeguard");
    const viaProducer = attach("createLifeguardMetricProducer");
    await runScriptedWorkload(open("same"));
    const normalise = (metrics: MetricData[]) =>
      metrics
        .map((m) => ({
          name: m.descriptor.name,
          unit: m.descriptor.unit,
          description: m.descriptor.description,
          valueType: m.descriptor.valueType,
          kind: kindOf(m),
          points: (m.dataPoints as { attributes: object; value: unknown }[])
            .map((point) => ({ attributes: point.attributes, value: rounded(point.value) }))
            .sort((a, b) =>
              JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes)),
            ),
        }))
        .sort((a, b) => a.name.localeCompare(b.name));
    const a = normalise(await viaMeter.collect());
    const b = normalise(await viaProducer.collect());
    expect(b).toEqual(a);
    expect(a).toHaveLength(metricNames.length - hostMetricNames.length);
  });

  it("do not subscribe to leak events, so the core's leak warning still reaches the process", () => {
    attach("instrumentLifeguard");
    attach("createLifeguardMetricProducer");
    expect(diagnosticsChannel.channel("lifeguard:pool:leak").hasSubscribers).toBe(false);
  });
});
