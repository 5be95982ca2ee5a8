import { describe, expect, it } from "vitest";
import { createPool, ManualClock } from "../src/index.js";
import { flush, StubConnector } from "./support/stub-connector.js";

describe("smoke", () => {
  it("acquires, releases, reuses", async () => {
    const clock = new ManualClock();
    const connector = new StubConnector();
    const pool = createPool({ connector, clock, max: 2 });
    const a = await pool.acquire();
    const b = await pool.acquire();
    expect(a.connection.id).not.toBe(b.connection.id);
    const waiting = pool.acquire();
    expect(pool.stats().pending).toBe(1);
    a.release();
    const c = await waiting;
    expect(c.connection.id).toBe(a.connection.id);
    c.release();
    b.release();
    expect(pool.stats()).toMatchObject({ total: 2, idle: 2, used: 0, pending: 0 });
    const report = await pool.close();
    expect(report.forced).toBe(false);
    await flush();
    expect(connector.live).toHaveLength(0);
  });
});
