import { describe, expect, it } from "vitest";
import { listen, setup } from "./support/harness.js";

/** Two idle connections, a bypass window far longer than the test, no idle or lifetime limits. */
async function idlePool(
  prePing: false | { bypassWindowMillis: number } = { bypassWindowMillis: 600_000 },
) {
  const h = setup({ min: 2, idleTimeoutMillis: 0, maxLifetimeSeconds: 0, prePing });
  await h.pool.warmup();
  return h;
}

describe("clock leaps", () => {
  it("marks idle connections for a ping before reuse after the clock jumps ahead", async () => {
    const { pool, clock, connector } = await idlePool();
    const leaps = listen<{ jumpMillis: number }>("lifeguard:pool:clock-leap", pool);
    await clock.leap(120_000); // suspended for two minutes: no timer ran meanwhile
    expect(pool.stats().counters.clockLeaps).toBe(1);
    expect(leaps).toHaveLength(1);
    expect(leaps[0]?.jumpMillis).toBeGreaterThanOrEqual(119_000);
    const a = await pool.acquire();
    const b = await pool.acquire();
    expect(connector.opened.map((c) => c.pings)).toEqual([1, 1]);
    expect(pool.stats().counters.prePings).toMatchObject({ ok: 2, bypassed: 0 });
    // once proven, they are trusted again
    a.release();
    b.release();
    (await pool.acquire()).release();
    expect(connector.opened.map((c) => c.pings)).toEqual([1, 1]);
  });

  it("does not see a leap when time passes normally", async () => {
    const { pool, clock, connector } = await idlePool();
    await clock.advance(120_000);
    expect(pool.stats().counters.clockLeaps).toBe(0);
    await pool.acquire();
    expect(connector.opened.map((c) => c.pings)).toEqual([0, 0]);
  });

  it("replaces connections that died during the leap", async () => {
    const { pool, clock, connector } = await idlePool();
    for (const c of connector.opened) c.ping = "fail";
    await clock.leap(3600_000);
    const lease = await pool.acquire();
    expect(lease.connection.id).toBe(3);
    expect(pool.stats().counters.prePings.failed).toBe(2);
  });

  it("counts the leap but sends no ping when prePing is false", async () => {
    const { pool, clock, connector } = await idlePool(false);
    await clock.leap(120_000);
    expect(pool.stats().counters.clockLeaps).toBe(1);
    await pool.acquire();
    expect(connector.opened.map((c) => c.pings)).toEqual([0, 0]);
  });

  it("leaves leased connections alone", async () => {
    const { pool, clock, connector } = await idlePool();
    const held = await pool.acquire();
    await clock.leap(120_000);
    held.release();
    // returned after the leap: it was just used successfully, so it needs no ping
    const again = await pool.acquire();
    expect(again.connection).toBe(held.connection);
    expect(held.connection.pings).toBe(0);
    const other = await pool.acquire();
    expect(other.connection.pings).toBe(1);
    expect(connector.opened).toHaveLength(2);
  });
});
