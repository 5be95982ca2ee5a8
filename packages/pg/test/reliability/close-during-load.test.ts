/**
 * Close during load: work asked for before close() is served (waiting callers too, as pg.Pool runs
 * queries issued just before end()), calls after it are rejected with `PoolClosedError` at once, leases still out at the deadline are reported (with their acquiring stacks), and when
 * close() resolves nothing of the pool is left open on the server (`pg_stat_activity`).
 */
import { ManualClock, PoolClosedError } from "@lifeguard/core";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Pool } from "../../src/index.js";
import { backendsNamed, Load, report, tally, turns } from "./support.js";

const db = useTestDatabase();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const MAX = 5;
const CONCURRENCY = 20;
const QUERY = "select pg_sleep(0.002)";

// application code that takes a client and never gives it back
async function handlerThatHoldsForever(pool: pg.Pool): Promise<pg.PoolClient> {
  return await pool.connect();
}

describe("close during load", () => {
  it("Lifeguard: work accepted before close finishes, later calls rejected at once, leases reported, nothing left on the server", async () => {
    const name = "lg_rel_close";
    const clock = new ManualClock();
    const pool = new Pool({
      connectionString: db.url,
      application_name: name,
      max: MAX,
      leakDetectionThresholdMillis: 60_000,
      clock,
    });
    cleanups.push(() => pool.end());
    let opened = 0;
    let removed = 0;
    pool.on("connect", () => opened++);
    pool.on("remove", () => removed++);

    const held = [await handlerThatHoldsForever(pool), await handlerThatHoldsForever(pool)];
    const load = new Load(
      CONCURRENCY,
      () => pool.query(QUERY),
      () => new Promise((resolve) => setImmediate(resolve)),
    );
    cleanups.push(() => load.stop());
    await load.until(() => load.successesSince(0) >= 100);
    const before = pool.stats();
    expect(before.pending).toBeGreaterThan(0);
    expect(before.total).toBe(MAX);

    const closeAt = performance.now();
    const closing = pool.close({ timeoutMillis: 5000 });
    // a call after close() is refused at once; the callers already waiting are served
    await expect(pool.query("select 1")).rejects.toBeInstanceOf(PoolClosedError);
    await vi.waitFor(() => expect(pool.stats().pending).toBe(0));
    // the work that had a connection finishes; then only the two forgotten leases are out
    await vi.waitFor(() => expect(pool.stats().leased).toBe(2));
    await load.stop();

    const after = load.records.filter((r) => r.end >= closeAt);
    const failed = after.filter((r) => r.error !== undefined);
    for (const r of failed) expect(r.error).toBeInstanceOf(PoolClosedError);
    // only calls made after close() fail: each query asked for before it completed normally
    for (const r of failed) expect(r.start).toBeGreaterThanOrEqual(closeAt);
    const finished = after.filter((r) => r.error === undefined);
    for (const r of finished) expect(r.start).toBeLessThan(closeAt);
    expect(finished.length).toBeGreaterThanOrEqual(before.pending);
    expect(failed.length).toBeGreaterThan(0);

    await clock.advance(5000); // shutdownTimeoutMillis: the forgotten leases are taken back
    const outcome = await closing;
    expect(outcome.forced).toBe(true);
    expect(outcome.leasesOutstanding).toHaveLength(2);
    for (const lease of outcome.leasesOutstanding) {
      expect(lease.acquireStack).toMatch(/handlerThatHoldsForever/);
      expect(lease.heldMillis).toBe(5000);
    }
    // every client the pool opened is closed, and the server agrees
    expect(removed).toBe(opened);
    expect(pool.totalCount).toBe(0);
    await vi.waitFor(async () => expect(await backendsNamed(db.url, name)).toBe(0));
    // the forgotten handles: their lease was taken back, so a query is refused (LeaseReleasedError)
    // and a late release is harmless
    const late = await Promise.resolve()
      .then(() => held[0]?.query("select 1"))
      .then(
        () => "served",
        (error: Error) => error.name,
      );
    expect(late).toBe("LeaseReleasedError");
    for (const client of held) expect(() => client.release()).not.toThrow();
    report("close-lifeguard", {
      waitingAtClose: before.pending,
      inFlightFinished: finished.length,
      rejected: tally(failed.map((r) => r.error)),
      leasesReported: outcome.leasesOutstanding.length,
      leftOnServer: 0,
      lateQueryOnForgottenHandle: late,
    });
  });

  it("plain pg.Pool: end() leaves its waiters pending and waits forever for the forgotten clients", async () => {
    const name = "lg_rel_close_pg";
    const pool = new pg.Pool({ connectionString: db.url, application_name: name, max: MAX });
    pool.on("error", () => undefined);
    const held = [await handlerThatHoldsForever(pool), await handlerThatHoldsForever(pool)];
    const load = new Load(
      CONCURRENCY,
      () => pool.query(QUERY),
      () => new Promise((resolve) => setImmediate(resolve)),
    );
    // the callers pg.Pool leaves waiting never return: the load is abandoned, not awaited
    cleanups.push(async () => load.abandon());
    await load.until(() => load.successesSince(0) >= 100);
    expect(pool.waitingCount).toBeGreaterThan(0);

    let ended = false;
    const ending = pool.end().then(() => {
      ended = true;
    });
    // running queries finish; what was queued is never answered, and new calls are refused
    await vi.waitFor(() => expect(pool.totalCount).toBe(2));
    const waiting = pool.waitingCount;
    expect(waiting).toBeGreaterThan(0);
    await expect(pool.query("select 1")).rejects.toThrow(/Cannot use a pool after calling end/);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    await vi.advanceTimersByTimeAsync(3_600_000); // an hour: nothing gives up
    await turns();
    expect(ended).toBe(false);
    expect(pool.waitingCount).toBe(waiting);
    vi.useRealTimers();
    expect(await backendsNamed(db.url, name)).toBe(2);
    report("close-pg", { waitersLeftPending: waiting, forgottenClientsStillOpen: 2 });

    // once the forgotten clients come back, end() finishes; its waiters are still never answered
    load.abandon();
    for (const client of held) client.release();
    await ending;
    expect(ended).toBe(true);
    expect(pool.waitingCount).toBe(waiting);
  });
});

// found by the reliability suite: a reset queued on a released client ("clean ahead") that close()
// then closed failed with "Connection terminated" and was counted as a clean-up failure, so every
// shutdown under reset 'always' reported as many clean-up failures as it had connections
describe("close right after releases whose reset is still queued", () => {
  it("is not counted as clean-up failures", async () => {
    const pool = new Pool({ connectionString: db.url, reset: "always", max: 4 });
    const clients = await Promise.all([1, 2, 3, 4].map(() => pool.connect()));
    for (const client of clients) await client.query("select 1");
    for (const client of clients) client.release(); // each queues its DISCARD ALL
    await pool.end();
    expect(pool.stats().counters.destroys.shutdown).toBe(4);
    expect(pool.stats().connector["cleanupFailures"]).toBe(0);
  });

  it("a reset that really fails still is", async () => {
    const pool = new Pool({ connectionString: db.url, reset: "always", resetQuery: "select 1/0" });
    cleanups.push(() => pool.end());
    await pool.query("select 1");
    await vi.waitFor(() => expect(pool.stats().connector["cleanupFailures"]).toBe(1));
  });
});
