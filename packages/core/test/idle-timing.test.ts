import { describe, expect, it } from "vitest";
import { HOUSEKEEPING_INTERVAL_MILLIS } from "../src/internal.js";
import { listen, setup } from "./support/harness.js";
import { flush } from "./support/stub-connector.js";

describe("idle timeout below the housekeeping interval", () => {
  it("closes a connection idle for 10 ms at 10 ms, not at the next 1 s tick", async () => {
    const { pool, clock } = setup({ idleTimeoutMillis: 10 });
    const lease = await pool.acquire();
    lease.release();
    await clock.advance(9);
    expect(pool.stats()).toMatchObject({ total: 1, idle: 1 });
    await clock.advance(1);
    expect(pool.stats()).toMatchObject({ total: 0, idle: 0 });
    expect(pool.stats().counters.destroys.idle).toBe(1);
    expect(lease.connection.destroyed).toBe(true);
  });

  it("retires each connection at its own idle deadline, least recently used first, keeping min", async () => {
    const { pool, clock } = setup({ idleTimeoutMillis: 10, min: 1, max: 3 });
    const leases = [await pool.acquire(), await pool.acquire(), await pool.acquire()];
    leases[0]?.release();
    await clock.advance(4);
    leases[1]?.release();
    await clock.advance(4);
    leases[2]?.release();
    await clock.advance(2); // 10 ms after the first went idle
    expect(leases.map((l) => l.connection.destroyed)).toEqual([true, false, false]);
    await clock.advance(4);
    expect(leases.map((l) => l.connection.destroyed)).toEqual([true, true, false]);
    await clock.advance(1000);
    expect(pool.stats().total).toBe(1); // min is kept
  });

  it("does not retire a connection that was lent again before its deadline", async () => {
    const { pool, clock } = setup({ idleTimeoutMillis: 10 });
    (await pool.acquire()).release();
    await clock.advance(8);
    const again = await pool.acquire();
    await clock.advance(8);
    again.release();
    await clock.advance(8);
    expect(pool.stats().total).toBe(1);
    await clock.advance(2);
    expect(pool.stats().total).toBe(0);
  });
});

describe("a connection that dies while idle", () => {
  it("leaves total and idle at once when the connector reports it lost", async () => {
    const { pool, connector } = setup();
    const lease = await pool.acquire();
    lease.release();
    const destroyed = listen<{ reason: string }>("lifeguard:connection:destroy", pool);
    lease.connection.broken = true; // what a driver's 'end' listener records
    connector.connectContexts[0]?.connectionLost(new Error("terminating connection"));
    expect(pool.stats()).toMatchObject({ total: 0, idle: 0 });
    expect(destroyed.map((e) => e.reason)).toEqual(["broken"]);
    expect(lease.connection.destroyed).toBe(false); // destroy runs after the current job
  });

  it("replaces it on demand or at the next housekeeping tick, not while the server may be restarting", async () => {
    const { pool, connector, clock } = setup({ min: 1 });
    await pool.warmup();
    connector.connectContexts[0]?.connectionLost();
    await flush();
    expect(connector.connectAttempts).toBe(1);
    expect(pool.stats()).toMatchObject({ total: 0 });
    await clock.advance(HOUSEKEEPING_INTERVAL_MILLIS);
    expect(connector.connectAttempts).toBe(2);
    expect(pool.stats()).toMatchObject({ total: 1, idle: 1 });
  });

  it("ignores the report for a leased connection: release retires it", async () => {
    const { pool, connector } = setup();
    const lease = await pool.acquire();
    lease.connection.broken = true;
    connector.connectContexts[0]?.connectionLost();
    expect(pool.stats()).toMatchObject({ total: 1, leased: 1 });
    lease.release();
    expect(pool.stats()).toMatchObject({ total: 0 });
    expect(pool.stats().counters.destroys.broken).toBe(1);
    // a late report after destroy does nothing
    connector.connectContexts[0]?.connectionLost();
    expect(pool.stats().counters.destroys.broken).toBe(1);
  });
});
