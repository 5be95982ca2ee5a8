/**
 * A latency spike (fault proxy latency, both directions): the application sees slower queries,
 * not errors; no healthy connection is thrown away; `total ≤ max`; everything returns to normal
 * when the spike ends. Also: what happens when the spike exceeds the pre-ping timeout.
 */
import { AcquireTimeoutError } from "@lifeguard/core";
import { startFaultProxy, useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Pool } from "../../src/index.js";
import {
  backendsNamed,
  Load,
  maxSampler,
  percentile,
  type RequestRecord,
  report,
  tally,
} from "./support.js";

const db = useTestDatabase();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const MAX = 10;
const CONCURRENCY = 20;
const PER_PHASE = 100;
const SPIKE_MILLIS = 50; // each way: +100 ms per round trip

interface Phase {
  records: RequestRecord[];
  p50: number;
  p99: number;
  errors: Record<string, number>;
}

/** Runs the load through three phases: normal, spike, normal again. */
async function spike(
  pool: pg.Pool,
  setLatency: (ms: number) => void,
  concurrency = CONCURRENCY,
  perPhase = PER_PHASE,
): Promise<Phase[]> {
  const load = new Load(
    concurrency,
    () => pool.query("select 1"),
    () => new Promise((resolve) => setImmediate(resolve)),
  );
  cleanups.push(() => load.stop());
  const phases: Phase[] = [];
  for (const latency of [0, SPIKE_MILLIS, 0]) {
    const since = performance.now();
    setLatency(latency);
    await load.until(() => load.successesSince(since) >= perPhase);
    const records = load.records.filter((r) => r.start >= since);
    const times = records.filter((r) => r.error === undefined).map((r) => r.end - r.start);
    phases.push({
      records,
      p50: Math.round(percentile(times, 50) * 10) / 10,
      p99: Math.round(percentile(times, 99) * 10) / 10,
      errors: tally(records.filter((r) => r.error !== undefined).map((r) => r.error)),
    });
  }
  await load.stop();
  return phases;
}

describe("latency spike", () => {
  it(`Lifeguard: +${SPIKE_MILLIS} ms each way at concurrency ${CONCURRENCY}: slower, 0 errors, no connection churn`, async () => {
    const proxy = await startFaultProxy(db.url);
    cleanups.push(() => proxy.close());
    const pool = new Pool({ connectionString: proxy.url(db.url), max: MAX });
    cleanups.push(() => pool.end());
    const total = maxSampler(() => pool.totalCount);
    cleanups.push(async () => total.stop());

    const phases = await spike(pool, (ms) => proxy.latency(ms));

    for (const phase of phases) expect(phase.errors).toEqual({});
    const stats = pool.stats();
    expect(Object.values(stats.counters.destroys).reduce((a, b) => a + b, 0)).toBe(0);
    expect(stats.counters.prePings.timeout).toBe(0);
    expect(proxy.accepted).toBe(stats.counters.creates);
    expect(total.max()).toBeLessThanOrEqual(MAX);
    report("latency-lifeguard", {
      p50: phases.map((p) => p.p50),
      p99: phases.map((p) => p.p99),
      connectionsOpened: stats.counters.creates,
      destroyed: 0,
      prePings: stats.counters.prePings,
    });
  });

  it("plain pg.Pool: the same spike: slower, 0 errors", async () => {
    const proxy = await startFaultProxy(db.url);
    cleanups.push(() => proxy.close());
    const pool = new pg.Pool({ connectionString: proxy.url(db.url), max: MAX });
    pool.on("error", () => undefined);
    cleanups.push(() => pool.end());
    const phases = await spike(pool, (ms) => proxy.latency(ms));
    for (const phase of phases) expect(phase.errors).toEqual({});
    report("latency-pg", {
      p50: phases.map((p) => p.p50),
      p99: phases.map((p) => p.p99),
      connectionsOpened: proxy.accepted,
    });
  });

  it("Lifeguard: a spike beyond prePing.timeoutMillis costs connections, never a broken one lent; nothing leaks after", async () => {
    const proxy = await startFaultProxy(db.url);
    cleanups.push(() => proxy.close());
    const name = "lg_rel_latency_ping";
    const pool = new Pool({
      connectionString: proxy.url(db.url),
      application_name: name,
      max: MAX,
      connectionTimeoutMillis: 3000,
      // pings every borrow, and gives up after 60 ms: below the spike's 100 ms round trip
      prePing: { bypassWindowMillis: 0, timeoutMillis: 60 },
    });
    cleanups.push(() => pool.end());
    const total = maxSampler(() => pool.totalCount);
    cleanups.push(async () => total.stop());

    // below max, so connections go idle between borrows and are pinged (a saturated pool hands a
    // returned connection straight to the next waiter: it was just used, there is nothing to ping)
    const phases = await spike(pool, (ms) => proxy.latency(ms), 4, 30);

    // whatever the spike did, the application never got a connection that then failed
    for (const phase of phases) {
      for (const r of phase.records) {
        if (r.error !== undefined) expect(r.error).toBeInstanceOf(AcquireTimeoutError);
      }
    }
    expect(phases[2]?.errors).toEqual({});
    const stats = pool.stats();
    expect(stats.counters.prePings.timeout).toBeGreaterThan(0);
    expect(stats.counters.destroys["ping-failed"]).toBe(stats.counters.prePings.timeout);
    expect(total.max()).toBeLessThanOrEqual(MAX);
    await vi.waitFor(async () => expect(await backendsNamed(db.url, name)).toBe(pool.totalCount));
    report("latency-lifeguard-ping-below-spike", {
      p50: phases.map((p) => p.p50),
      p99: phases.map((p) => p.p99),
      errors: phases.map((p) => p.errors),
      pingTimeouts: stats.counters.prePings.timeout,
      connectionsOpened: stats.counters.creates,
    });
  });
});
