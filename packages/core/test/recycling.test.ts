import { describe, expect, it } from "vitest";
import { HOUSEKEEPING_INTERVAL_MILLIS } from "../src/internal.js";
import { listen, sequence, setup } from "./support/harness.js";
import { flush } from "./support/stub-connector.js";

const TICK = HOUSEKEEPING_INTERVAL_MILLIS;

describe("max lifetime", () => {
  it("retires idle connections at the housekeeping tick after their jittered lifetime, keeping min warm", async () => {
    // random draws 0, 0.5 and 0.999 give lifetimes of 100 s, 95 s and 90.01 s
    const { pool, clock, connector } = setup({
      min: 3,
      max: 3,
      maxLifetimeSeconds: 100,
      lifetimeJitter: 0.1,
      idleTimeoutMillis: 0,
      random: sequence(0, 0.5, 0.999, 0),
    });
    const destroyed = listen<{ connectionId: number; reason: string }>(
      "lifeguard:connection:destroy",
      pool,
    );
    await pool.warmup();
    const start = clock.now();
    const retiredAt = new Map<number, number>();
    for (let t = 0; t < 101_000; t += TICK) {
      await clock.advance(TICK);
      for (const event of destroyed) {
        if (!retiredAt.has(event.connectionId))
          retiredAt.set(event.connectionId, clock.now() - start);
      }
    }
    expect(Object.fromEntries(retiredAt)).toEqual({ 3: 91_000, 2: 95_000, 1: 100_000 });
    expect(destroyed.every((e) => e.reason === "lifetime")).toBe(true);
    // each was replaced at once, so the pool never dropped below min
    expect(pool.stats()).toMatchObject({ total: 3, idle: 3 });
    expect(connector.live.map((c) => c.id).sort()).toEqual([4, 5, 6]);
  });

  it("with the default 2.5% jitter, connections opened together retire at different times", async () => {
    const { pool, clock } = setup({
      min: 5,
      max: 5,
      maxLifetimeSeconds: 1000,
      idleTimeoutMillis: 0,
      random: sequence(0.1, 0.3, 0.5, 0.7, 0.9),
    });
    const destroyed = listen<{ connectionId: number }>("lifeguard:connection:destroy", pool);
    await pool.warmup();
    const start = clock.now();
    const retiredAt: number[] = [];
    while (destroyed.length < 5) {
      await clock.advance(TICK);
      while (retiredAt.length < destroyed.length) retiredAt.push(clock.now() - start);
    }
    expect(new Set(retiredAt).size).toBe(5);
    for (const t of retiredAt) {
      expect(t).toBeGreaterThanOrEqual(1000_000 * 0.975);
      expect(t).toBeLessThanOrEqual(1000_000 + TICK);
    }
  });

  it("never retires a connection later than maxLifetimeSeconds (plus one tick) with real randomness", async () => {
    const { pool, clock } = setup({
      min: 20,
      max: 20,
      maxLifetimeSeconds: 60,
      idleTimeoutMillis: 0,
    });
    const start = clock.now();
    const destroyed = listen<{ reason: string }>("lifeguard:connection:destroy", pool);
    await pool.warmup();
    await clock.advance(60_000 * 0.975 - TICK); // 57.5 s: none may go before 58.5 s
    expect(destroyed).toHaveLength(0);
    await clock.advance(60_000 + TICK - clock.now() + start);
    expect(destroyed).toHaveLength(20);
    expect(destroyed.every((e) => e.reason === "lifetime")).toBe(true);
  });

  it("retires a busy connection when it comes back", async () => {
    const { pool, clock, connector } = setup({
      min: 1,
      maxLifetimeSeconds: 10,
      lifetimeJitter: 0,
      idleTimeoutMillis: 0,
    });
    const lease = await pool.acquire();
    await clock.advance(15_000);
    expect(lease.connection.destroyed).toBe(false); // busy: left alone by housekeeping
    lease.release();
    await flush();
    expect(lease.connection.destroyed).toBe(true);
    expect(pool.stats().counters.destroys.lifetime).toBe(1);
    expect(pool.stats()).toMatchObject({ total: 1, idle: 1 }); // min kept
    expect(connector.live[0]?.id).toBe(2);
  });

  it("never lends an expired connection, even between housekeeping ticks", async () => {
    const { pool, clock } = setup({
      maxLifetimeSeconds: 10,
      lifetimeJitter: 0,
      idleTimeoutMillis: 0,
    });
    await clock.advance(TICK / 2); // open it half-way between two ticks
    const lease = await pool.acquire();
    lease.release();
    await clock.advance(10_000);
    expect(lease.connection.destroyed).toBe(false); // the next tick is still 500 ms away
    const next = await pool.acquire();
    expect(next.connection).not.toBe(lease.connection);
    await flush();
    expect(lease.connection.destroyed).toBe(true);
    expect(pool.stats().counters.destroys.lifetime).toBe(1);
  });

  it("maxLifetimeSeconds 0 keeps connections forever", async () => {
    const { pool, clock } = setup({ min: 1, maxLifetimeSeconds: 0 });
    await pool.warmup();
    await clock.advance(10 * 3600_000);
    expect(pool.stats().counters.destroys.lifetime).toBe(0);
    expect(pool.stats().total).toBe(1);
  });
});

describe("idle timeout", () => {
  it("retires connections idle longer than idleTimeoutMillis above min, least recently used first", async () => {
    const { pool, clock } = setup({ min: 1, max: 3, idleTimeoutMillis: 5000 });
    const leases = [await pool.acquire(), await pool.acquire(), await pool.acquire()];
    for (const lease of leases) lease.release();
    await clock.advance(4000);
    expect(pool.stats().total).toBe(3);
    await clock.advance(TICK); // the first tick at least 5 s after they went idle
    await flush();
    expect(pool.stats()).toMatchObject({ total: 1, idle: 1 });
    expect(pool.stats().counters.destroys.idle).toBe(2);
    // the survivor is the most recently returned one
    expect(leases.map((l) => l.connection.destroyed)).toEqual([true, true, false]);
    await clock.advance(60_000);
    expect(pool.stats().total).toBe(1); // min is kept
  });

  it("counts idleness from the last return, not from creation", async () => {
    const { pool, clock } = setup({ idleTimeoutMillis: 5000 });
    const first = await pool.acquire();
    first.release();
    await clock.advance(4000);
    (await pool.acquire()).release();
    await clock.advance(4000);
    expect(pool.stats().total).toBe(1);
    await clock.advance(2000);
    expect(pool.stats().total).toBe(0);
  });

  it("idleTimeoutMillis 0 never retires idle connections", async () => {
    const { pool, clock } = setup({ idleTimeoutMillis: 0, maxLifetimeSeconds: 0 });
    (await pool.acquire()).release();
    await clock.advance(3600_000);
    expect(pool.stats().total).toBe(1);
  });
});

describe("maxUses", () => {
  it("retires a connection after it served maxUses leases", async () => {
    const { pool, connector } = setup({ maxUses: 2 });
    const first = await pool.acquire();
    first.release();
    const second = await pool.acquire();
    expect(second.connection).toBe(first.connection);
    second.release();
    await flush();
    expect(first.connection.destroyed).toBe(true);
    expect(pool.stats().counters.destroys["max-uses"]).toBe(1);
    const third = await pool.acquire();
    expect(third.connection.id).toBe(2);
    expect(connector.connectAttempts).toBe(2);
  });
});

describe("expiring", () => {
  it("counts leased connections past their lifetime or evicted, which close on release", async () => {
    const { pool, clock } = setup({ max: 2, maxLifetimeSeconds: 10, lifetimeJitter: 0 });
    const a = await pool.acquire();
    const b = await pool.acquire();
    expect(pool.stats().expiring).toBe(0);
    pool.evict();
    expect(pool.stats().expiring).toBe(2);
    a.release();
    expect(pool.stats()).toMatchObject({ expiring: 1, total: 1 });
    const c = await pool.acquire();
    await clock.advance(10_000);
    expect(pool.stats().expiring).toBe(2);
    b.release();
    c.release();
    await flush();
    expect(pool.stats()).toMatchObject({ expiring: 0, total: 0 });
  });
});
