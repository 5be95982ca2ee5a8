/**
 * The pg connector's own bounds run on the pool's clock (the context every connector call gets),
 * not on timers of their own: a test's ManualClock drives the clean-up bound like every other
 * deadline. Before, the bound was a real 5 s (here 60 s) `setTimeout` a ManualClock could not move.
 */
import { ManualClock } from "@lifeguard/core";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Pool } from "../src/index.js";
import { pidOf } from "./helpers.js";

const db = useTestDatabase();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

describe("the pg connector's timers", () => {
  it("the clean-up bound fires when the pool's clock passes it, and the next borrower gets a fresh connection", async () => {
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    cleanups.push(() => locker.end());
    await locker.query("select pg_advisory_lock(4243)");
    cleanups.push(() => locker.query("select pg_advisory_unlock(4243)"));
    const clock = new ManualClock();
    const pool = new Pool({
      connectionString: db.url,
      max: 1,
      reset: "always",
      // a reset that waits on a lock another session holds: only the bound ends it
      resetQuery: "select pg_advisory_xact_lock(4243)",
      prePing: false,
      idleTimeoutMillis: 0, // kept idle while the clock moves
      cleanupTimeoutMillis: 60_000,
      clock,
    });
    cleanups.push(() => pool.end());
    const first = await pool.connect();
    const pid = await pidOf(first);
    first.release();
    // the reset is written ahead and the client is idle again, its clean-up still blocked
    await vi.waitFor(() => expect(pool.idleCount).toBe(1));
    await clock.advance(59_999);
    expect(pool.stats().connector["cleanupFailures"]).toBe(0);
    await clock.advance(1);
    expect(pool.stats().connector["cleanupFailures"]).toBe(1);
    const next = await pool.connect();
    expect(await pidOf(next)).not.toBe(pid);
    next.release();
  });
});
