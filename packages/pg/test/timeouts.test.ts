import { AcquireTimeoutError, ManualClock } from "@lifeguard/core";
import { startFaultProxy, useTestDatabase } from "@lifeguard/test-fixtures";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Pool } from "../src/index.js";
import { backendsNamed as backendsOn } from "./reliability/support.js";

const db = useTestDatabase();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Backends of the pool named `name` on the test database. */
const backendsNamed = (name: string) => backendsOn(db.url, name);

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => "served",
    (error: { code?: string }) => error.code,
  );

describe("connectionTimeoutMillis", () => {
  it("bounds the wait when the pool is exhausted, and says why", async () => {
    const clock = new ManualClock();
    const pool = new Pool({
      connectionString: db.url,
      max: 1,
      connectionTimeoutMillis: 3000,
      clock,
    });
    cleanups.push(() => pool.end());
    const held = await pool.connect();
    try {
      const outcome = pool.connect().then(
        () => "served",
        (error: unknown) => error,
      );
      await clock.advance(2999);
      expect(pool.waitingCount).toBe(1);
      await clock.advance(1);
      const error = await outcome;
      expect(error).toBeInstanceOf(AcquireTimeoutError);
      expect((error as AcquireTimeoutError).message).toMatch(
        /3000 ms.*total=1, idle=0, used=1, pending=1, max=1.*every connection is in use/,
      );
    } finally {
      held.release();
    }
  });

  it("bounds the wait when the server blackholes new connections", async () => {
    const proxy = await startFaultProxy(db.url);
    cleanups.push(() => proxy.close());
    const clock = new ManualClock();
    const pool = new Pool({
      connectionString: proxy.url(db.url),
      connectionTimeoutMillis: 5000,
      clock,
    });
    cleanups.push(async () => {
      await proxy.pass();
      await pool.end();
    });
    await proxy.blackhole();
    const outcome = codeOf(pool.connect());
    await clock.advance(5000);
    expect(["LIFEGUARD_ACQUIRE_TIMEOUT", "LIFEGUARD_DB_UNAVAILABLE"]).toContain(await outcome);
  });

  it("pre-ping gives up on a blackholed idle connection after prePing.timeoutMillis", async () => {
    const proxy = await startFaultProxy(db.url);
    cleanups.push(() => proxy.close());
    const clock = new ManualClock();
    const pool = new Pool({
      connectionString: proxy.url(db.url),
      connectionTimeoutMillis: 10_000,
      prePing: { bypassWindowMillis: 0, timeoutMillis: 1000 },
      clock,
    });
    cleanups.push(async () => {
      await proxy.pass();
      await pool.end();
    });
    await pool.query("select 1");
    await clock.advance(1); // past the (zero) bypass window
    await proxy.blackhole();
    const outcome = codeOf(pool.connect());
    await clock.advance(1000);
    expect(pool.stats().counters.prePings.timeout).toBe(1);
    await clock.advance(9000);
    expect(["LIFEGUARD_ACQUIRE_TIMEOUT", "LIFEGUARD_DB_UNAVAILABLE"]).toContain(await outcome);
  });

  it("a connect that completes after its caller gave up joins the pool", async () => {
    const proxy = await startFaultProxy(db.url);
    cleanups.push(() => proxy.close());
    const pool = new Pool({
      connectionString: proxy.url(db.url),
      application_name: "lg_late_join",
    });
    cleanups.push(() => pool.end());
    proxy.latency(100);
    const joined = new Promise<void>((resolve) => pool.once("connect", () => resolve()));
    await expect(pool.lifeguard.acquire({ timeoutMillis: 20 })).rejects.toBeInstanceOf(
      AcquireTimeoutError,
    );
    proxy.latency(0);
    await joined;
    await vi.waitFor(() => expect(pool.idleCount).toBe(1));
    expect(await backendsNamed("lg_late_join")).toBe(1);
  });

  it("a connect still running at its own deadline is abandoned and its socket closed", async () => {
    const proxy = await startFaultProxy(db.url);
    cleanups.push(() => proxy.close());
    const clock = new ManualClock();
    const pool = new Pool({
      connectionString: proxy.url(db.url),
      application_name: "lg_late_abandoned",
      connectionTimeoutMillis: 1000,
      clock,
    });
    cleanups.push(() => pool.end());
    await proxy.blackhole();
    const outcome = codeOf(pool.connect());
    await clock.advance(1000);
    expect(["LIFEGUARD_ACQUIRE_TIMEOUT", "LIFEGUARD_DB_UNAVAILABLE"]).toContain(await outcome);
    expect(pool.totalCount).toBe(0);
    // the blackhole holds the client's close too; once it heals the close goes through
    await proxy.pass();
    await vi.waitFor(() => expect(proxy.connections).toBe(0));
    await vi.waitFor(async () => expect(await backendsNamed("lg_late_abandoned")).toBe(0));
  });
});
