import { describe, expect, it } from "vitest";
import { AcquireTimeoutError } from "../src/index.js";
import { setup, track } from "./support/harness.js";
import { flush } from "./support/stub-connector.js";

/** A pool holding `count` idle connections, last used at the clock's current time. */
async function withIdle(count: number, options: Parameters<typeof setup>[0] = {}) {
  const h = setup({ idleTimeoutMillis: 0, maxLifetimeSeconds: 0, ...options });
  const leases = [];
  for (let i = 0; i < count; i++) leases.push(await h.pool.acquire());
  for (const lease of leases) lease.release();
  expect(h.pool.stats()).toMatchObject({ total: count, idle: count });
  // the last one released is on top of the idle stack
  const [bottom, top] = [h.connector.opened[0], h.connector.opened[count - 1]];
  if (bottom === undefined || top === undefined) throw new Error("no connections");
  return { ...h, bottom, top };
}

describe("pre-ping stage 1: isBroken", () => {
  it("destroys a broken idle connection without a round trip and lends the next one", async () => {
    const { pool, connector, bottom, top } = await withIdle(2);
    top.broken = true;
    const lease = await pool.acquire();
    expect(lease.connection).toBe(bottom);
    await flush();
    expect(top.destroyed).toBe(true);
    expect(top.pings + bottom.pings).toBe(0);
    expect(pool.stats().counters.destroys.broken).toBe(1);
    expect(connector.connectAttempts).toBe(2);
  });

  it("opens a new connection when every idle one is broken", async () => {
    const { pool, connector, bottom, top } = await withIdle(2);
    top.broken = true;
    bottom.broken = true;
    const lease = await pool.acquire();
    expect(lease.connection.id).toBe(3);
    expect(connector.connectAttempts).toBe(3);
    expect(pool.stats()).toMatchObject({ total: 1, leased: 1 });
  });

  it("checks connections handed to a queued waiter too", async () => {
    const { pool, connector } = setup({ max: 2 });
    const a = await pool.acquire();
    const b = await pool.acquire();
    const waiting = track(pool.acquire());
    b.connection.broken = true;
    b.release();
    await flush();
    expect(b.connection.destroyed).toBe(true);
    // b was replaced by a new connection for the waiter
    expect(waiting.value?.connection.id).toBe(3);
    expect(connector.opened.map((c) => c.destroyed)).toEqual([false, true, false]);
    a.release();
  });
});

describe("pre-ping stage 2: bypass window", () => {
  it("skips the round trip for a connection used successfully less than bypassWindowMillis ago", async () => {
    const { pool, clock, top } = await withIdle(1, { prePing: { bypassWindowMillis: 500 } });
    await clock.advance(499);
    const lease = await pool.acquire();
    expect(lease.connection).toBe(top);
    expect(top.pings).toBe(0);
    expect(pool.stats().counters.prePings).toMatchObject({ bypassed: 1, ok: 0 });
  });

  it("pings a connection whose last use is bypassWindowMillis or more ago", async () => {
    const { pool, clock, top } = await withIdle(1, { prePing: { bypassWindowMillis: 500 } });
    await clock.advance(500);
    const lease = await pool.acquire();
    expect(lease.connection).toBe(top);
    expect(top.pings).toBe(1);
    expect(pool.stats().counters.prePings).toMatchObject({ ok: 1, bypassed: 0 });
    // a successful ping counts as a use: borrowing again right away needs no round trip
    lease.release();
    await pool.acquire();
    expect(top.pings).toBe(1);
    expect(pool.stats().counters.prePings).toMatchObject({ ok: 1, bypassed: 1 });
  });

  it("pings every borrow with bypassWindowMillis 0", async () => {
    const { pool, top } = await withIdle(1, { prePing: { bypassWindowMillis: 0 } });
    (await pool.acquire()).release();
    (await pool.acquire()).release();
    expect(top.pings).toBe(2);
  });
});

describe("pre-ping stage 3: round trip", () => {
  it("destroys a connection whose ping fails and tries the next one", async () => {
    const { pool, clock, bottom, top } = await withIdle(2);
    await clock.advance(1000);
    top.ping = "fail";
    const lease = await pool.acquire();
    expect(lease.connection).toBe(bottom);
    expect(top.destroyed).toBe(true);
    expect([top.pings, bottom.pings]).toEqual([1, 1]);
    expect(pool.stats().counters.prePings).toMatchObject({ failed: 1, ok: 1 });
    expect(pool.stats().counters.destroys["ping-failed"]).toBe(1);
  });

  it("counts a ping that outlasts prePing.timeoutMillis as dead", async () => {
    const { pool, clock, bottom, top } = await withIdle(2, {
      prePing: { timeoutMillis: 300, bypassWindowMillis: 500 },
    });
    await clock.advance(1000);
    top.ping = "hang";
    const acquiring = track(pool.acquire());
    await clock.advance(299);
    expect(acquiring.status).toBe("pending");
    expect(pool.stats()).toMatchObject({ validating: 1, pending: 1 });
    await clock.advance(1);
    expect(acquiring.status).toBe("fulfilled");
    expect(acquiring.value?.connection).toBe(bottom);
    expect(top.destroyed).toBe(true);
    expect(pool.stats().counters.prePings).toMatchObject({ timeout: 1, ok: 1 });
  });

  it("opens a new connection when every idle one fails its ping", async () => {
    const { pool, clock, connector, bottom, top } = await withIdle(2);
    await clock.advance(1000);
    top.ping = "fail";
    bottom.ping = "fail";
    const lease = await pool.acquire();
    expect(lease.connection.id).toBe(3);
    expect(connector.live.map((c) => c.id)).toEqual([3]);
    expect(lease.connection.pings).toBe(0); // a fresh connection needs no ping
  });

  it("keeps all retries inside the caller's one acquire deadline", async () => {
    const { pool, clock, connector, bottom, top } = await withIdle(2, {
      acquireTimeoutMillis: 1000,
      prePing: { timeoutMillis: 600, bypassWindowMillis: 500 },
    });
    await clock.advance(1000);
    top.ping = "hang";
    bottom.ping = "hang";
    const acquiring = track(pool.acquire());
    await clock.advance(600); // first ping times out, the second starts
    expect(top.destroyed).toBe(true);
    expect(bottom.pings).toBe(1);
    expect(acquiring.status).toBe("pending");
    await clock.advance(400); // the caller's deadline, while the second ping still runs
    expect(acquiring.status).toBe("rejected");
    expect(acquiring.error).toBeInstanceOf(AcquireTimeoutError);
    expect((acquiring.error as AcquireTimeoutError).waitedMillis).toBe(1000);
    await clock.advance(200);
    expect(bottom.destroyed).toBe(true);
    expect(pool.stats()).toMatchObject({ total: 0, pending: 0 });
    expect(connector.connectAttempts).toBe(2); // nobody waits any more: nothing is opened
  });

  it("never lends a connection that turned out broken while its ping was in flight", async () => {
    const { pool, clock, connector, top } = await withIdle(1);
    await clock.advance(1000);
    top.ping = "manual";
    const acquiring = track(pool.acquire());
    await flush();
    top.broken = true;
    connector.finishPing("ok");
    await flush();
    expect(acquiring.status).toBe("fulfilled");
    expect(acquiring.value?.connection).not.toBe(top);
    expect(top.destroyed).toBe(true);
  });
});

describe("prePing: false", () => {
  it("lends idle connections without a round trip but still drops broken ones", async () => {
    const { pool, clock, bottom, top } = await withIdle(2, { prePing: false });
    await clock.advance(60_000);
    top.broken = true;
    const lease = await pool.acquire();
    expect(lease.connection).toBe(bottom);
    expect(bottom.pings + top.pings).toBe(0);
    expect(pool.stats().counters.prePings).toEqual({ ok: 0, failed: 0, timeout: 0, bypassed: 0 });
  });
});
