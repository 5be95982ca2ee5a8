import { describe, expect, it } from "vitest";
import { InvalidOptionError, PoolClosedError } from "../src/index.js";
import { setup, track } from "./support/harness.js";
import { flush, StubConnector } from "./support/stub-connector.js";

describe("close()", () => {
  it("rejects waiters with PoolClosedError and waits for leases to come back", async () => {
    const { pool, connector } = setup({ max: 2 });
    const a = await pool.acquire();
    const b = await pool.acquire();
    const waiter = track(pool.acquire());
    const closing = track(pool.close());
    await flush();
    expect(waiter.status).toBe("rejected");
    expect(waiter.error).toBeInstanceOf(PoolClosedError);
    expect(pool.state).toBe("closing");
    expect(closing.status).toBe("pending");

    a.release();
    await flush();
    expect(a.connection.destroyed).toBe(true);
    expect(closing.status).toBe("pending");
    b.release();
    await flush();
    expect(closing.status).toBe("fulfilled");
    expect(closing.value).toEqual({ forced: false, leasesOutstanding: [] });
    expect(pool.state).toBe("closed");
    expect(connector.live).toHaveLength(0);
    expect(pool.stats().counters.destroys.shutdown).toBe(2);
  });

  it("closes idle connections at once, before leases come back", async () => {
    const { pool } = setup();
    const held = await pool.acquire();
    const idle = await pool.acquire();
    idle.release();
    const closing = track(pool.close());
    await flush();
    expect(idle.connection.destroyed).toBe(true);
    expect(held.connection.destroyed).toBe(false);
    expect(pool.stats()).toMatchObject({ total: 1, idle: 0, leased: 1, state: "closing" });
    held.release();
    await flush();
    expect(closing.status).toBe("fulfilled");
  });

  it("destroys the rest at the deadline and reports which leases were still out, with their stacks", async () => {
    const { pool, clock, connector } = setup({ leakDetectionThresholdMillis: 60_000 });
    async function borrowAndForget() {
      return pool.acquire();
    }
    const kept = await borrowAndForget();
    const returned = await pool.acquire();
    await clock.advance(1000);
    const closing = track(pool.close({ timeoutMillis: 5000 }));
    returned.release();
    await clock.advance(4999);
    expect(closing.status).toBe("pending");
    expect(kept.connection.destroyed).toBe(false);
    await clock.advance(1);
    expect(closing.status).toBe("fulfilled");
    const report = closing.value;
    expect(report?.forced).toBe(true);
    expect(report?.leasesOutstanding).toHaveLength(1);
    expect(report?.leasesOutstanding[0]).toMatchObject({
      connectionId: kept.connection.id,
      heldMillis: 6000,
    });
    expect(report?.leasesOutstanding[0]?.acquireStack).toContain("borrowAndForget");
    expect(kept.connection.destroyed).toBe(true);
    expect(kept.released).toBe(true);
    // the borrower hands it back late: no throw, no second destroy
    expect(() => kept.release()).not.toThrow();
    await flush();
    expect(connector.misuse).toEqual([]);
    expect(connector.destroyed).toHaveLength(2);
  });

  it("reports outstanding leases without stacks when leak detection is off", async () => {
    const { pool, clock } = setup();
    await pool.acquire();
    const closing = track(pool.close({ timeoutMillis: 0 }));
    await clock.advance(0);
    expect(closing.value?.leasesOutstanding).toEqual([
      { connectionId: 1, heldMillis: 0, acquireStack: undefined },
    ]);
  });

  it("is idempotent", async () => {
    const { pool, clock } = setup();
    await pool.acquire();
    const first = pool.close({ timeoutMillis: 100 });
    const second = pool.close({ timeoutMillis: 99_999 });
    expect(second).toBe(first);
    await clock.advance(100);
    const report = await first;
    expect(report.forced).toBe(true);
    await expect(pool.close()).resolves.toBe(report);
  });

  it("rejects acquire and warmup after close", async () => {
    const { pool } = setup({ min: 1 });
    await pool.close();
    await expect(pool.acquire()).rejects.toBeInstanceOf(PoolClosedError);
    await expect(pool.acquire()).rejects.toMatchObject({ code: "LIFEGUARD_POOL_CLOSED" });
    await expect(pool.warmup()).rejects.toBeInstanceOf(PoolClosedError);
  });

  it("rejects a pending warmup()", async () => {
    const connector = new StubConnector();
    connector.mode = "manual";
    const { pool } = setup({ min: 1, connector });
    const warm = track(pool.warmup());
    await pool.close();
    expect(warm.status).toBe("rejected");
    expect(warm.error).toBeInstanceOf(PoolClosedError);
  });

  it("aborts connects in flight and never leaks what they open", async () => {
    const connector = new StubConnector();
    connector.mode = "manual";
    const { pool } = setup({ connector });
    const waiter = track(pool.acquire());
    await flush();
    expect(connector.pendingConnects).toHaveLength(1);
    const closing = track(pool.close({ timeoutMillis: 10_000 }));
    await flush();
    expect(waiter.error).toBeInstanceOf(PoolClosedError);
    expect(closing.status).toBe("fulfilled"); // the connect honoured the abort: nothing to wait for
    expect(connector.pendingConnects).toHaveLength(0);
  });

  it("closes a connection that a connect ignoring the abort opens after close", async () => {
    const connector = new StubConnector();
    connector.mode = "manual";
    connector.honourConnectAbort = false;
    const { pool, clock } = setup({ connector });
    void track(pool.acquire());
    await flush();
    const closing = track(pool.close({ timeoutMillis: 1000 }));
    await clock.advance(1000);
    expect(closing.status).toBe("fulfilled");
    const late = connector.finishConnect();
    await flush();
    expect(late.destroyed).toBe(true);
    expect(connector.live).toHaveLength(0);
  });

  it("does not wait out its deadline for a pre-ping in flight", async () => {
    const { pool, clock, connector } = setup();
    (await pool.acquire()).release();
    await clock.advance(1000);
    const idle = connector.opened[0];
    if (idle === undefined) throw new Error("no connection");
    idle.ping = "manual";
    const waiter = track(pool.acquire());
    await flush();
    expect(pool.stats().validating).toBe(1);
    const closing = track(pool.close({ timeoutMillis: 10_000 }));
    await flush();
    expect(waiter.error).toBeInstanceOf(PoolClosedError);
    expect(closing.status).toBe("fulfilled");
    expect(closing.value?.forced).toBe(false);
    expect(idle.destroyed).toBe(true);
  });

  it("waits for an asynchronous clean-up in progress, then closes that connection", async () => {
    const { pool, connector } = setup();
    connector.releaseMode = "async";
    const lease = await pool.acquire();
    lease.release();
    const closing = track(pool.close());
    await flush();
    expect(closing.status).toBe("pending");
    connector.finishRelease("keep");
    await flush();
    expect(closing.status).toBe("fulfilled");
    expect(lease.connection.destroyed).toBe(true);
  });

  it("destroys every connection it created and leaves no timer armed", async () => {
    const { pool, clock, connector } = setup({ min: 3, max: 5 });
    const leases = [await pool.acquire(), await pool.acquire()];
    await pool.acquire(); // never released
    for (const lease of leases) lease.release();
    const closing = track(pool.close({ timeoutMillis: 500 }));
    await clock.advance(500);
    expect(closing.status).toBe("fulfilled");
    expect(connector.opened.length).toBeGreaterThanOrEqual(3);
    expect(connector.destroyed).toHaveLength(connector.opened.length);
    expect(connector.misuse).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
    expect(pool.stats()).toMatchObject({ state: "closed", total: 0 });
  });

  it("validates timeoutMillis and stays open when it is invalid", async () => {
    const { pool } = setup();
    await expect(pool.close({ timeoutMillis: -1 })).rejects.toBeInstanceOf(InvalidOptionError);
    expect(pool.state).toBe("open");
    await expect(pool.close()).resolves.toMatchObject({ forced: false });
  });
});
