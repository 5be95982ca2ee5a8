import { describe, expect, it } from "vitest";
import { listen, setup } from "./support/harness.js";

/**
 * A thawed process runs its I/O callbacks (the request that borrows) and its timers in no set
 * order: the borrow can come before the housekeeping tick. `clock.leap()` moves time at once and
 * fires the timers only after the promise callbacks queued before it, so an acquire called right
 * after it, without awaiting, borrows before the late tick runs: a thawed process.
 */

/** Three idle connections, used a moment ago, a bypass window far longer than any freeze here. */
async function warmPool(
  prePing: false | { bypassWindowMillis: number } = { bypassWindowMillis: 600_000 },
) {
  const h = setup({ min: 3, max: 3, idleTimeoutMillis: 0, maxLifetimeSeconds: 0, prePing });
  await h.pool.warmup();
  return h;
}

describe("freeze detected at the borrow, before the housekeeping tick runs", () => {
  it("a gap: every idle connection is pinged before it is lent, and the leap is counted once", async () => {
    const { pool, clock, connector } = await warmPool();
    const leaps = listen<{ jumpMillis: number }>("lifeguard:pool:clock-leap", pool);
    const thawing = clock.leap(5000);
    const borrows = [pool.acquire(), pool.acquire(), pool.acquire()];
    expect(pool.stats().counters.clockLeaps).toBe(1); // seen by the first borrow, synchronously
    await thawing;
    const leases = await Promise.all(borrows);
    expect(connector.opened.map((c) => c.pings)).toEqual([1, 1, 1]);
    expect(pool.stats().counters.prePings).toMatchObject({ ok: 3, bypassed: 0 });
    // the late tick ran at the borrow: its timer, when it fires, is on time and counts nothing more
    expect(pool.stats().counters.clockLeaps).toBe(1);
    expect(leaps).toHaveLength(1);
    expect(leaps[0]?.jumpMillis).toBeGreaterThanOrEqual(4000);
    for (const lease of leases) lease.release();
    // once proven, they are trusted again inside the bypass window
    await clock.advance(3000);
    (await pool.acquire()).release();
    expect(connector.opened.map((c) => c.pings)).toEqual([1, 1, 1]);
    expect(pool.stats().counters.clockLeaps).toBe(1);
  });

  it("a connection that died during the freeze is never lent: its ping fails, another is used", async () => {
    const { pool, clock, connector } = await warmPool();
    const [first, second] = connector.opened;
    if (first === undefined || second === undefined) throw new Error("pool did not warm up");
    // the server closed two of them; the process has not read their sockets' end yet
    const top = connector.opened[2];
    if (top === undefined) throw new Error("pool did not warm up");
    top.ping = "fail";
    second.ping = "fail";
    const thawing = clock.leap(60_000);
    const lease = pool.acquire();
    await thawing;
    expect((await lease).connection).toBe(first);
    expect(pool.stats().counters.prePings).toMatchObject({ failed: 2, ok: 1 });
    expect(pool.stats().counters.destroys["ping-failed"]).toBe(2);
  });

  it("no gap: time passing with the ticks on time keeps the bypass window (no ping)", async () => {
    const { pool, clock, connector } = await warmPool();
    await clock.advance(120_000);
    const leases = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    expect(connector.opened.map((c) => c.pings)).toEqual([0, 0, 0]);
    expect(pool.stats().counters.prePings).toMatchObject({ ok: 0, failed: 0, bypassed: 3 });
    expect(pool.stats().counters.clockLeaps).toBe(0);
    for (const lease of leases) lease.release();
  });

  it("a gap shorter than the threshold is no freeze: the bypass window holds", async () => {
    const { pool, clock, connector } = await warmPool();
    await clock.advance(1); // the tick is due in 999 ms
    const thawing = clock.leap(1500); // it is now 501 ms late: under a whole interval
    const lease = pool.acquire();
    await thawing;
    await lease;
    expect(connector.opened.map((c) => c.pings)).toEqual([0, 0, 0]);
    expect(pool.stats().counters.clockLeaps).toBe(0);
  });

  it("a borrow the fast path declines runs the late tick where the pump lends", async () => {
    const { pool, clock, connector } = await warmPool();
    const held = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    const waiting = pool.acquire(); // queued: nothing idle
    const [a, b, c] = held;
    if (a === undefined || b === undefined || c === undefined) throw new Error("no leases");
    // the first one back goes straight to the waiter; then the process freezes
    a.release();
    b.release();
    const lent = await waiting;
    expect(lent.connection).toBe(a.connection);
    lent.release();
    const thawing = clock.leap(30_000);
    const next = pool.acquire();
    await thawing;
    await next;
    expect(pool.stats().counters.clockLeaps).toBe(1);
    expect(pool.stats().counters.prePings.ok).toBe(1);
    c.release();
    expect(connector.misuse).toEqual([]);
  });

  it("prePing false: the leap is counted at the borrow's tick, nothing is pinged", async () => {
    const { pool, clock, connector } = await warmPool(false);
    const thawing = clock.leap(5000);
    const lease = pool.acquire();
    await thawing;
    await lease;
    expect(connector.opened.map((c) => c.pings)).toEqual([0, 0, 0]);
    expect(pool.stats().counters.clockLeaps).toBe(1);
  });
});
