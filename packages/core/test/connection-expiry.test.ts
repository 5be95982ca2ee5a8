import { describe, expect, it } from "vitest";
import { InvalidOptionError } from "../src/index.js";
import { HOUSEKEEPING_INTERVAL_MILLIS } from "../src/internal.js";
import { listen, sequence, setup } from "./support/harness.js";
import type { StubConnection } from "./support/stub-connector.js";
import { flush, StubConnector } from "./support/stub-connector.js";

const TICK = HOUSEKEEPING_INTERVAL_MILLIS;

/** A connector that caps each connection's life, as the pg one does when credentials expire. */
class ExpiringConnector extends StubConnector {
  cap: () => unknown = () => undefined;
  readonly asked: number[] = [];
  expiresAt(_connection: StubConnection, now: number): number | undefined {
    this.asked.push(now);
    return this.cap() as number | undefined;
  }
}

describe("the connector's cap on a connection's life (Connector.expiresAt)", () => {
  it("retires a connection by the cap, jittered on the time left, even below maxLifetimeSeconds", async () => {
    const connector = new ExpiringConnector();
    const { pool, clock } = setup({
      connector,
      maxLifetimeSeconds: 1000,
      lifetimeJitter: 0.1,
      idleTimeoutMillis: 0,
      random: sequence(0.5),
    });
    const opened = clock.now();
    connector.cap = () => opened + 10_000;
    const destroyed = listen<{ connectionId: number; reason: string }>(
      "lifeguard:connection:destroy",
      pool,
    );
    (await pool.acquire()).release();
    expect(connector.asked).toEqual([opened]);
    // 10 s left, jitter 0.1 × 0.5: retires at 9.5 s, at the tick after it
    await clock.advance(9000);
    expect(destroyed).toEqual([]);
    await clock.advance(TICK);
    expect(destroyed).toMatchObject([{ connectionId: 1, reason: "lifetime" }]);
  });

  it("keeps maxLifetimeSeconds when it comes first", async () => {
    const connector = new ExpiringConnector();
    const { pool, clock } = setup({
      connector,
      maxLifetimeSeconds: 5,
      lifetimeJitter: 0,
      idleTimeoutMillis: 0,
    });
    connector.cap = () => clock.now() + 60_000;
    const lease = await pool.acquire();
    await clock.advance(5000);
    lease.release();
    await flush();
    expect(lease.connection.destroyed).toBe(true);
    expect(pool.stats().counters.destroys.lifetime).toBe(1);
  });

  it("a connection whose cap has passed is never lent again: it retires when returned", async () => {
    const connector = new ExpiringConnector();
    const { pool, clock } = setup({ connector, idleTimeoutMillis: 0 });
    connector.cap = () => clock.now() - 1;
    const lease = await pool.acquire();
    lease.release();
    await flush();
    expect(lease.connection.destroyed).toBe(true);
    expect(pool.stats().counters.destroys.lifetime).toBe(1);
  });

  it.each([
    [
      "throws",
      () => {
        throw new Error("no idea");
      },
    ],
    ["returns NaN", () => Number.NaN],
    ["returns a string", () => "soon"],
    ["returns undefined", () => undefined],
  ])("a cap that %s means no limit", async (_, cap) => {
    const connector = new ExpiringConnector();
    const { pool, clock } = setup({ connector, maxLifetimeSeconds: 0, idleTimeoutMillis: 0 });
    connector.cap = cap;
    const lease = await pool.acquire();
    lease.release();
    await clock.advance(100 * TICK);
    expect(lease.connection.destroyed).toBe(false);
    expect(pool.stats().total).toBe(1);
  });
});

describe("evict({ spreadMillis })", () => {
  it("retires each connection at its own moment within the window, keeping min", async () => {
    // warmup draws no randoms (lifetime 0); the spread draws 0.1, 0.5, 0.9 for 1 s, 5 s, 9 s
    const { pool, clock, connector } = setup({
      min: 3,
      max: 3,
      maxLifetimeSeconds: 0,
      idleTimeoutMillis: 0,
      random: sequence(0.1, 0.5, 0.9),
    });
    await pool.warmup();
    const destroyed = listen<{ connectionId: number; reason: string }>(
      "lifeguard:connection:destroy",
      pool,
    );
    expect(pool.evict({ spreadMillis: 10_000 })).toBe(3);
    await flush();
    expect(destroyed).toEqual([]);
    const retiredAt = new Map<number, number>();
    const start = clock.now();
    for (let t = 0; t < 10_000; t += TICK) {
      await clock.advance(TICK);
      for (const e of destroyed) {
        if (!retiredAt.has(e.connectionId)) retiredAt.set(e.connectionId, clock.now() - start);
      }
    }
    expect(Object.fromEntries(retiredAt)).toEqual({ 1: 1000, 2: 5000, 3: 9000 });
    expect(destroyed.every((e) => e.reason === "evicted")).toBe(true);
    expect(pool.stats()).toMatchObject({ total: 3, idle: 3 });
    expect(connector.live.map((c) => c.id)).toEqual([4, 5, 6]);
  });

  it("a busy connection retires when it comes back after its moment, not before", async () => {
    const { pool, clock } = setup({ maxLifetimeSeconds: 0, random: sequence(0.5) });
    const lease = await pool.acquire();
    expect(pool.evict({ spreadMillis: 4000 })).toBe(1);
    await clock.advance(1000);
    lease.release();
    await flush();
    expect(lease.connection.destroyed).toBe(false);
    const again = await pool.acquire();
    expect(again.connection).toBe(lease.connection);
    await clock.advance(1000);
    again.release();
    await flush();
    expect(lease.connection.destroyed).toBe(true);
    expect(pool.stats().counters.destroys.evicted).toBe(1);
  });

  it("never lengthens a life: a connection expiring sooner keeps its expiry", async () => {
    const { pool } = setup({ maxLifetimeSeconds: 1, lifetimeJitter: 0, random: sequence(0.9) });
    (await pool.acquire()).release();
    expect(pool.evict({ spreadMillis: 60_000 })).toBe(0);
  });

  it("rejects an invalid spreadMillis", () => {
    const { pool } = setup();
    expect(() => pool.evict({ spreadMillis: -1 })).toThrow(InvalidOptionError);
    expect(() => pool.evict({ spreadMillis: Number.NaN })).toThrow(/spreadMillis/);
  });
});
