/**
 * docs/reliability.md, "Network blackhole": the network goes silent (fault proxy blackhole: nothing crosses, nothing closes).
 * The acquire deadline and the pre-ping timeout are honoured to the millisecond of the pool's
 * clock, and once the network heals no connection is left behind on either side.
 */
import { AcquireTimeoutError, DatabaseUnavailableError, ManualClock } from "@lifeguard/core";
import { startFaultProxy, useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Pool } from "../../src/index.js";
import { backendsNamed, report, turns } from "./support.js";

const db = useTestDatabase();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Tracked {
  status: "pending" | "served" | "rejected";
  error: unknown;
  client: pg.PoolClient | undefined;
}

function track(promise: Promise<pg.PoolClient>): Tracked {
  const t: Tracked = { status: "pending", error: undefined, client: undefined };
  promise.then(
    (client) => {
      t.status = "served";
      t.client = client;
    },
    (error: unknown) => {
      t.status = "rejected";
      t.error = error;
    },
  );
  return t;
}

async function proxied() {
  const proxy = await startFaultProxy(db.url);
  cleanups.push(() => proxy.close());
  return proxy;
}

describe("network blackhole", () => {
  it("Lifeguard: the ping timeout and the acquire deadline hold exactly; nothing leaks when it heals", async () => {
    const proxy = await proxied();
    const name = "lg_rel_blackhole";
    const clock = new ManualClock();
    const pool = new Pool({
      connectionString: proxy.url(db.url),
      application_name: name,
      max: 4,
      connectionTimeoutMillis: 5000,
      prePing: { bypassWindowMillis: 500, timeoutMillis: 1000 },
      clock,
      random: () => 0.5,
    });
    cleanups.push(() => pool.end());
    const warm = await Promise.all([1, 2, 3, 4].map(() => pool.connect()));
    for (const c of warm) c.release();
    expect(pool.idleCount).toBe(4);
    await clock.advance(500); // idle past the bypass window: the next borrow pings

    await proxy.blackhole();
    const acceptedBefore = proxy.accepted;
    const waiters = [1, 2, 3, 4].map(() => track(pool.connect()));
    await clock.advance(999);
    expect(waiters.map((w) => w.status)).toEqual(Array(4).fill("pending"));
    expect(pool.stats().counters.prePings.timeout).toBe(0);
    await clock.advance(1); // prePing.timeoutMillis
    expect(pool.stats().counters.prePings.timeout).toBe(4);
    expect(pool.stats().counters.destroys["ping-failed"]).toBe(4);
    // the callers keep waiting inside their one deadline, on new connects (blackholed too)
    expect(waiters.map((w) => w.status)).toEqual(Array(4).fill("pending"));
    await vi.waitFor(() => expect(proxy.accepted - acceptedBefore).toBe(4));
    await clock.advance(3999);
    expect(waiters.map((w) => w.status)).toEqual(Array(4).fill("pending"));
    await clock.advance(1); // connectionTimeoutMillis after the acquire
    for (const w of waiters) {
      expect(w.status).toBe("rejected");
      expect(w.error).toBeInstanceOf(AcquireTimeoutError);
      expect((w.error as AcquireTimeoutError).waitedMillis).toBe(5000);
    }
    // the connects are abandoned at their own deadline; then callers are turned away at once
    await clock.advance(1000);
    expect(pool.totalCount).toBe(0);
    expect(pool.stats().circuit).toBe("open");
    const turnedAway = track(pool.connect());
    await turns();
    expect(turnedAway.error).toBeInstanceOf(DatabaseUnavailableError);

    // the network heals: the held closes reach the server, the probe gets through
    await proxy.pass();
    for (let i = 0; i < 20 && pool.stats().circuit === "open"; i++) {
      await clock.advance(1000);
      await turns();
    }
    await vi.waitFor(() => expect(pool.stats().circuit).toBe("closed"));
    await expect(pool.query("select 1 as one")).resolves.toMatchObject({ rows: [{ one: 1 }] });
    // nothing left behind: the server and the proxy see exactly the pool's own connections
    await vi.waitFor(async () => {
      expect(await backendsNamed(db.url, name)).toBe(pool.totalCount);
      expect(proxy.connections).toBe(pool.totalCount);
    });
    expect(pool.totalCount).toBeGreaterThan(0);
    report("blackhole-lifeguard", {
      pingTimeoutMillis: 1000,
      acquireDeadlineMillis: 5000,
      waitedMillis: waiters.map((w) => (w.error as AcquireTimeoutError).waitedMillis),
      pingTimeouts: pool.stats().counters.prePings.timeout,
      connectsAbandoned: pool.stats().counters.createErrors,
      leftOnServerAfterHeal: (await backendsNamed(db.url, name)) - pool.totalCount,
    });
  });

  it("Lifeguard: a lease taken inside the bypass window is not pinged; pg's query_timeout bounds its query and the pool never lends the stuck connection", async () => {
    const proxy = await proxied();
    const pool = new Pool({
      connectionString: proxy.url(db.url),
      max: 2,
      query_timeout: 200,
    });
    cleanups.push(() => pool.end());
    await pool.query("select 1"); // just used: inside the 500 ms bypass window
    await proxy.blackhole();
    const client = await pool.connect(); // no round trip: nothing can tell the network is gone
    await expect(client.query("select 1")).rejects.toThrow(/Query read timeout/);
    client.release();
    // the query is still in flight behind the blackhole: the connection is being cleaned, not idle
    expect(pool.stats().releasing).toBe(1);
    expect(pool.idleCount).toBe(0);
    await proxy.pass();
    // once the held bytes arrive, the ROLLBACK runs and the connection is clean again (or gone)
    await vi.waitFor(() => expect(pool.stats().releasing).toBe(0));
    await expect(pool.query("select 2 as two")).resolves.toMatchObject({ rows: [{ two: 2 }] });
  });

  it("plain pg.Pool: a blackholed idle client is handed out and its query has no deadline at all", async () => {
    const proxy = await proxied();
    const pool = new pg.Pool({ connectionString: proxy.url(db.url), max: 1 });
    pool.on("error", () => undefined);
    cleanups.push(() => pool.end());
    await pool.query("select 1");
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    await proxy.blackhole();
    let settled = false;
    const query = pool.query("select 1 as one").finally(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(3_600_000); // an hour: no timer of pg's would end it
    await turns();
    expect(settled).toBe(false);
    expect(pool.waitingCount).toBe(0); // it was lent, not queued: no check before lending
    vi.useRealTimers();
    await proxy.pass();
    await expect(query).resolves.toMatchObject({ rows: [{ one: 1 }] });
  });

  it("plain pg.Pool: a new connection into the blackhole waits forever by default (connectionTimeoutMillis 0)", async () => {
    const proxy = await proxied();
    const pool = new pg.Pool({ connectionString: proxy.url(db.url), max: 1 });
    pool.on("error", () => undefined);
    cleanups.push(async () => {
      await proxy.pass();
      await pool.end();
    });
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    await proxy.blackhole();
    const acquiring = track(pool.connect());
    await vi.waitFor(() => expect(proxy.connections).toBe(1));
    await vi.advanceTimersByTimeAsync(3_600_000);
    await turns();
    expect(acquiring.status).toBe("pending");
    vi.useRealTimers();
    await proxy.pass();
    await vi.waitFor(() => expect(acquiring.status).toBe("served"));
    acquiring.client?.release();
  });
});
