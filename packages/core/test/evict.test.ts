import { describe, expect, it } from "vitest";
import { InvalidOptionError } from "../src/index.js";
import { setup, track } from "./support/harness.js";
import { flush } from "./support/stub-connector.js";

describe("evict()", () => {
  it("closes idle connections now and busy ones when they come back", async () => {
    const { pool } = setup();
    const busy = await pool.acquire();
    const idle = await pool.acquire();
    idle.release();
    expect(pool.evict()).toBe(2);
    await flush();
    expect(idle.connection.destroyed).toBe(true);
    expect(busy.connection.destroyed).toBe(false);
    expect(busy.released).toBe(false);
    busy.release();
    await flush();
    expect(busy.connection.destroyed).toBe(true);
    expect(pool.stats()).toMatchObject({ total: 0 });
    expect(pool.stats().counters.destroys.evicted).toBe(2);
    // marking twice counts once
    expect(pool.evict()).toBe(0);
  });

  it("opens replacements to keep min", async () => {
    const { pool, connector } = setup({ min: 2 });
    await pool.warmup();
    pool.evict();
    await flush();
    expect(pool.stats()).toMatchObject({ total: 2, idle: 2 });
    expect(connector.live.map((c) => c.id)).toEqual([3, 4]);
  });

  it("evict({ olderThan }) retires only connections at least that old", async () => {
    const { pool, clock } = setup({ idleTimeoutMillis: 0 });
    const old = await pool.acquire();
    await clock.advance(5000);
    const young = await pool.acquire();
    old.release();
    young.release();
    await clock.advance(1000);
    expect(pool.evict({ olderThan: 6000 })).toBe(1);
    await flush();
    expect(old.connection.destroyed).toBe(true);
    expect(young.connection.destroyed).toBe(false);
    expect(pool.evict({ olderThan: 1001 })).toBe(0);
    expect(pool.evict({ olderThan: 1000 })).toBe(1);
  });

  it("retires a connection being cleaned or pinged instead of lending it", async () => {
    const { pool, clock, connector } = setup({ max: 2 });
    const pinged = await pool.acquire();
    const cleaned = await pool.acquire();
    pinged.release();
    await clock.advance(1000);
    pinged.connection.ping = "manual";
    connector.releaseMode = "async";
    cleaned.release();
    const waiter = track(pool.acquire());
    await flush();
    expect(pool.stats()).toMatchObject({ validating: 1, releasing: 1 });
    expect(pool.evict()).toBe(2);
    connector.finishPing("ok");
    connector.finishRelease("keep");
    await flush();
    expect(pinged.connection.destroyed).toBe(true);
    expect(cleaned.connection.destroyed).toBe(true);
    expect(waiter.status).toBe("fulfilled");
    expect(waiter.value?.connection.id).toBe(3);
  });

  it("rejects an invalid olderThan", () => {
    const { pool } = setup();
    expect(() => pool.evict({ olderThan: -1 })).toThrow(InvalidOptionError);
    expect(() => pool.evict({ olderThan: Number.NaN })).toThrow(/olderThan/);
  });
});
