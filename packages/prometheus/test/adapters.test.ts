/**
 * docs/metrics.md: the same workload through every adapter yields the same metric names and label sets,
 * because the metrics come from the core's channels and `stats()` and adapters add nothing.
 * Runs against the real PostgreSQL of the test harness.
 */
import { ManualClock } from "@lifeguard/core";
import { Pool } from "@lifeguard/pg";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LifeguardMetrics } from "../src/index.js";
import { hostMetricNames, metricNames, registerLifeguardMetrics } from "../src/index.js";
import type { Adapter } from "./support/adapters.js";
import { adapters, QUERIES, workload } from "./support/adapters.js";
import type { Exposition } from "./support/exposition.js";
import { parseExposition, sample } from "./support/exposition.js";

/** `family{label=value,...}` for every sample of the pool, with its name replaced by `<pool>`. */
function shape(exposition: Exposition, poolName: string): string[] {
  return exposition.samples
    .filter((s) => s.labels["pool_name"] === poolName)
    .map((s) => {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}=${k === "pool_name" ? "<pool>" : v}`)
        .sort()
        .join(",");
      return `${s.name}{${labels}}`;
    })
    .sort();
}

const db = useTestDatabase();
const registry = new Registry();
let metrics: LifeguardMetrics;
const results = new Map<string, Exposition>();

beforeAll(async () => {
  metrics = registerLifeguardMetrics({ register: registry });
  for (const adapter of adapters) {
    const session = await adapter.open(db.url, `adapter-${adapter.id}`);
    try {
      await workload(session);
      results.set(adapter.id, parseExposition(await registry.metrics()));
    } finally {
      await session.close();
    }
  }
});

afterAll(() => {
  metrics?.unregister();
});

describe.each(adapters.map((a) => a.id))("the same workload through %s", (id) => {
  it("reports every metric for the pool, with values that match the workload", () => {
    const x = results.get(id) as Exposition;
    const pool = { pool_name: `adapter-${id}` };
    const names = new Set(shape(x, pool.pool_name).map((s) => s.slice(0, s.indexOf("{"))));
    for (const name of metricNames) {
      if (hostMetricNames.includes(name)) continue; // multi-host pools only (test/hosts.test.ts)
      const family = x.types.get(name) === "histogram" ? `${name}_bucket` : name;
      expect(names, name).toContain(family);
    }
    expect(sample(x, "db_client_connection_wait_time_seconds_count", pool)).toBeGreaterThanOrEqual(
      QUERIES,
    );
    expect(sample(x, "db_client_connection_use_time_seconds_count", pool)).toBeGreaterThanOrEqual(
      QUERIES,
    );
    expect(sample(x, "db_client_connection_create_time_seconds_count", pool)).toBe(1);
    expect(sample(x, "lifeguard_resets_total", pool)).toBeGreaterThanOrEqual(1);
    expect(sample(x, "db_client_connection_timeouts_total", pool)).toBe(0);
    expect(sample(x, "db_client_connection_max", pool)).toBe(1);
  });

  it("has the same metric names and label sets as every other adapter", () => {
    const reference = adapters[0] as Adapter;
    expect(shape(results.get(id) as Exposition, `adapter-${id}`)).toEqual(
      shape(results.get(reference.id) as Exposition, `adapter-${reference.id}`),
    );
  });
});

describe("through the pg drop-in", () => {
  it("counts a rollback on release, an acquire timeout, and an idle connection's death", async () => {
    const name = "pg-events";
    // the acquire deadline on a clock moved by hand: the timeout happens when the test says so
    const clock = new ManualClock();
    const pool = new Pool({
      connectionString: db.url,
      name,
      max: 1,
      connectionTimeoutMillis: 1000,
      clock,
    });
    pool.on("error", () => undefined); // the idle backend is terminated below
    try {
      const client = await pool.connect();
      await client.query("begin");
      await client.query("select 1");
      // the pool is exhausted: this acquire gives up at its deadline
      const waiting = pool.query("select 1").catch((error: unknown) => error);
      await clock.advance(1000);
      expect(await waiting).toMatchObject({ code: "LIFEGUARD_ACQUIRE_TIMEOUT" });
      client.release(); // with the transaction still open: rolled back
      // kill the idle backend from outside; the pool notices, counts it, and replaces it
      const admin = new Pool({ connectionString: db.url, name: "pg-events-admin", max: 1 });
      try {
        const { rows } = await pool.query<{ pid: number }>("select pg_backend_pid() as pid");
        const errored = new Promise((resolve) => pool.once("error", resolve));
        await admin.query("select pg_terminate_backend($1)", [rows[0]?.pid]);
        await errored;
      } finally {
        await admin.end();
      }
      await pool.query("select 1");
      const x = parseExposition(await registry.metrics());
      const labels = { pool_name: name };
      expect(sample(x, "lifeguard_rollbacks_on_release_total", labels)).toBe(1);
      expect(sample(x, "db_client_connection_timeouts_total", labels)).toBe(1);
      expect(sample(x, "lifeguard_connection_errors_total", labels)).toBe(1);
      expect(sample(x, "lifeguard_evictions_total", { ...labels, reason: "broken" })).toBe(1);
      expect(sample(x, "db_client_connection_create_time_seconds_count", labels)).toBe(2);
      expect(sample(x, "db_client_connection_count", { ...labels, state: "idle" })).toBe(1);
    } finally {
      await pool.end();
    }
  });
});
