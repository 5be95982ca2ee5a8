/**
 * docs/metrics.md: the same workload through every adapter yields the same metric names and attribute
 * sets (adapters add nothing; the metrics come from the core). Real PostgreSQL from the harness.
 */
import { useTestDatabase } from "@lifeguard/test-fixtures";
import type { MetricData } from "@opentelemetry/sdk-metrics";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// the adapter table and workload shared with @lifeguard/prometheus's cross-adapter test
import type { Adapter } from "../../prometheus/test/support/adapters.js";
import { adapters, QUERIES, workload } from "../../prometheus/test/support/adapters.js";
import { hostMetricNames, metricNames } from "../src/index.js";
import type { Mode, Pipeline } from "./support/collect.js";
import { histogramPoint, pipeline, sumPoint } from "./support/collect.js";

const POOL = "db.client.connection.pool.name";
const modes: readonly Mode[] = ["instrumentLifeguard", "createLifeguardMetricProducer"];

/** `name{key=value,...}` of every point of the pool, its name replaced by `<pool>`. */
function shape(metrics: readonly MetricData[], poolName: string): string[] {
  const result: string[] = [];
  for (const m of metrics) {
    for (const point of m.dataPoints as { attributes: Record<string, unknown> }[]) {
      if (point.attributes[POOL] !== poolName) continue;
      const attributes = Object.entries(point.attributes)
        .map(([k, v]) => `${k}=${k === POOL ? "<pool>" : String(v)}`)
        .sort()
        .join(",");
      result.push(`${m.descriptor.name}:${m.descriptor.unit}{${attributes}}`);
    }
  }
  return result.sort();
}

const db = useTestDatabase();
const pipelines = new Map<Mode, Pipeline>();
/** results[mode][adapter] */
const results = new Map<Mode, Map<string, MetricData[]>>();

beforeAll(async () => {
  for (const mode of modes) {
    pipelines.set(mode, pipeline(mode));
    results.set(mode, new Map());
  }
  for (const adapter of adapters) {
    const session = await adapter.open(db.url, `otel-adapter-${adapter.id}`);
    try {
      await workload(session);
      for (const mode of modes) {
        results.get(mode)?.set(adapter.id, await (pipelines.get(mode) as Pipeline).collect());
      }
    } finally {
      await session.close();
    }
  }
});

afterAll(async () => {
  for (const p of pipelines.values()) await p.shutdown();
});

describe.each(modes)("%s", (mode) => {
  describe.each(adapters.map((a) => a.id))("the same workload through %s", (id) => {
    it("reports every metric for the pool, with values that match the workload", () => {
      const metrics = results.get(mode)?.get(id) as MetricData[];
      const pool = { [POOL]: `otel-adapter-${id}` };
      const names = new Set(shape(metrics, pool[POOL]).map((s) => s.slice(0, s.indexOf(":"))));
      // the per-host metrics report only multi-host pools (test/hosts.test.ts)
      for (const name of metricNames) {
        if (!hostMetricNames.includes(name)) expect(names, name).toContain(name);
      }
      expect(
        histogramPoint(metrics, "db.client.connection.wait_time", pool).count,
      ).toBeGreaterThanOrEqual(QUERIES);
      expect(
        histogramPoint(metrics, "db.client.connection.use_time", pool).count,
      ).toBeGreaterThanOrEqual(QUERIES);
      expect(histogramPoint(metrics, "db.client.connection.create_time", pool).count).toBe(1);
      expect(sumPoint(metrics, "lifeguard.resets", pool)).toBeGreaterThanOrEqual(1);
      expect(sumPoint(metrics, "db.client.connection.max", pool)).toBe(1);
    });

    it("has the same metric names, units and attribute sets as every other adapter", () => {
      const reference = adapters[0] as Adapter;
      const byAdapter = results.get(mode) as Map<string, MetricData[]>;
      expect(shape(byAdapter.get(id) as MetricData[], `otel-adapter-${id}`)).toEqual(
        shape(byAdapter.get(reference.id) as MetricData[], `otel-adapter-${reference.id}`),
      );
    });
  });
});
