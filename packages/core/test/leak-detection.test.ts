import { afterEach, describe, expect, it, vi } from "vitest";
import type { LeakEvent } from "../src/index.js";
import { listen, setup } from "./support/harness.js";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("leak detection", () => {
  it("publishes lifeguard:pool:leak with the stack captured at acquire", async () => {
    const { pool, clock } = setup({ leakDetectionThresholdMillis: 1000 });
    const leaks = listen<LeakEvent>("lifeguard:pool:leak", pool);
    async function borrowAndHoldTooLong() {
      return pool.acquire();
    }
    const lease = await borrowAndHoldTooLong();
    await clock.advance(999);
    expect(leaks).toHaveLength(0);
    await clock.advance(1);
    expect(leaks).toHaveLength(1);
    const leak = leaks[0] as LeakEvent;
    expect(leak).toMatchObject({ pool, connectionId: lease.connection.id, heldMillis: 1000 });
    expect(leak.stack).toContain("borrowAndHoldTooLong");
    expect(leak.stack).toContain("leak-detection.test");
    expect(pool.stats().counters.leaks).toBe(1);
    // reported once, not on every tick
    await clock.advance(10_000);
    expect(leaks).toHaveLength(1);
  });

  it("publishes lifeguard:pool:leak-returned, with the stack, when a reported lease comes back", async () => {
    const { pool, clock } = setup({ leakDetectionThresholdMillis: 1000 });
    const returned = listen<LeakEvent>("lifeguard:pool:leak-returned", pool);
    listen("lifeguard:pool:leak", pool);
    async function borrowAndReturnLate() {
      return pool.acquire();
    }
    const lease = await borrowAndReturnLate();
    await clock.advance(2500);
    expect(returned).toHaveLength(0);
    lease.release();
    expect(returned).toHaveLength(1);
    expect(returned[0]).toMatchObject({ connectionId: lease.connection.id, heldMillis: 2500 });
    expect(returned[0]?.stack).toContain("borrowAndReturnLate");
  });

  it("says nothing about a lease returned in time", async () => {
    const { pool, clock } = setup({ leakDetectionThresholdMillis: 1000 });
    const leaks = listen("lifeguard:pool:leak", pool);
    const returned = listen("lifeguard:pool:leak-returned", pool);
    const lease = await pool.acquire();
    await clock.advance(999);
    lease.release();
    await clock.advance(10_000);
    expect(leaks).toHaveLength(0);
    expect(returned).toHaveLength(0);
    expect(pool.stats().counters.leaks).toBe(0);
  });

  it("emits a process warning with code LIFEGUARD_LEAK when nobody subscribes", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    const { pool, clock } = setup({ leakDetectionThresholdMillis: 500, name: "reports" });
    async function borrowWithoutSubscriber() {
      return pool.acquire();
    }
    await borrowWithoutSubscriber();
    await clock.advance(500);
    expect(warn).toHaveBeenCalledTimes(1);
    const [message, options] = warn.mock.calls[0] as [string, { code: string; type: string }];
    expect(options).toMatchObject({ code: "LIFEGUARD_LEAK" });
    expect(message).toContain('"reports"');
    expect(message).toContain("500 ms");
    expect(message).toContain("borrowWithoutSubscriber");
  });

  it("captures nothing and schedules nothing when off", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    const { pool, clock, connector } = setup(); // leakDetectionThresholdMillis defaults to 0
    const leaks = listen("lifeguard:pool:leak", pool);
    const lease = await pool.acquire();
    expect(lease.entry.acquireStack).toBeUndefined();
    expect(lease.entry.acquireError).toBeUndefined();
    expect(lease.entry.heapIndex).toBe(-1); // not in the scheduler
    await clock.advance(24 * 3600_000);
    expect(leaks).toHaveLength(0);
    expect(warn).not.toHaveBeenCalled();
    lease.release();
    expect(connector.releaseInfos[0]?.acquireStack).toBeUndefined();
  });

  it("watches a lease only while it is out", async () => {
    const { pool } = setup({ leakDetectionThresholdMillis: 1000 });
    const lease = await pool.acquire();
    expect(lease.entry.heapIndex).not.toBe(-1);
    expect(lease.entry.acquireStack).toContain("Error");
    lease.release();
    expect(lease.entry.heapIndex).toBe(-1);
  });
});
