/**
 * docs/reliability.md, "Leak detection": a lease held past `leakDetectionThresholdMillis` is reported with the stack that
 * acquired it (on `lifeguard:pool:leak`, or as a process warning when nobody listens), its late
 * return is reported too, and the acquiring stack follows the lease into the rollback event.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import {
  type ConnectionSessionEvent,
  channelNames,
  type LeakEvent,
  ManualClock,
} from "@lifeguard/core";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Pool } from "../../src/index.js";
import { report, turns } from "./support.js";

const db = useTestDatabase();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function listen<T>(name: string, pool: Pool): T[] {
  const events: T[] = [];
  const onMessage = (message: unknown) => {
    if ((message as { pool?: unknown }).pool === pool.lifeguard) events.push(message as T);
  };
  subscribe(name, onMessage);
  cleanups.push(async () => unsubscribe(name, onMessage));
  return events;
}

// The application code whose name must show up in the reports.
async function handlerThatForgetsToRelease(pool: Pool): Promise<pg.PoolClient> {
  const client = await pool.connect();
  await client.query("select 1");
  return client; // never released by the handler
}

async function handlerThatLeavesATransactionOpen(pool: Pool): Promise<void> {
  const client = await pool.connect();
  await client.query("begin");
  client.release();
}

describe("leak detection", () => {
  it("reports a lease held past the threshold with the acquiring stack, and its late return", async () => {
    const clock = new ManualClock();
    const pool = new Pool({ connectionString: db.url, leakDetectionThresholdMillis: 1000, clock });
    cleanups.push(() => pool.end());
    const leaks = listen<LeakEvent>(channelNames.leak, pool);
    const returned = listen<LeakEvent>(channelNames.leakReturned, pool);

    const client = await handlerThatForgetsToRelease(pool);
    await clock.advance(999);
    expect(leaks).toEqual([]);
    await clock.advance(1);
    expect(leaks).toHaveLength(1);
    const leak = leaks[0] as LeakEvent;
    expect(leak.heldMillis).toBe(1000);
    expect(leak.stack).toMatch(/Connection acquired here/);
    expect(leak.stack).toMatch(/handlerThatForgetsToRelease/);
    expect(leak.stack).toMatch(/leak-detection\.test\.ts/);
    expect(pool.stats().counters.leaks).toBe(1);

    await clock.advance(500);
    client.release();
    expect(returned).toHaveLength(1);
    expect(returned[0]?.heldMillis).toBe(1500);
    expect(returned[0]?.connectionId).toBe(leak.connectionId);
    report("leak-detection", {
      thresholdMillis: 1000,
      reportedAfterMillis: leak.heldMillis,
      stackFirstAppFrame: leak.stack
        .split("\n")
        .find((l) => l.includes("handlerThat"))
        ?.trim(),
    });
  });

  it("with nobody subscribed, the leak becomes a process warning carrying the stack", async () => {
    const clock = new ManualClock();
    const pool = new Pool({ connectionString: db.url, leakDetectionThresholdMillis: 1000, clock });
    cleanups.push(() => pool.end());
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    cleanups.push(async () => process.off("warning", onWarning));

    const client = await handlerThatForgetsToRelease(pool);
    await clock.advance(1000);
    await vi.waitFor(() => expect(warnings).toHaveLength(1));
    expect(warnings[0]?.name).toBe("LifeguardLeakWarning");
    expect(warnings[0]?.message).toMatch(/held for 1000 ms/);
    expect(warnings[0]?.message).toMatch(/handlerThatForgetsToRelease/);
    client.release();
  });

  it("the rollback of a transaction left open names the borrower that left it", async () => {
    const pool = new Pool({ connectionString: db.url, leakDetectionThresholdMillis: 60_000 });
    cleanups.push(() => pool.end());
    const rollbacks = listen<ConnectionSessionEvent>(channelNames.connectionRollback, pool);
    await handlerThatLeavesATransactionOpen(pool);
    await vi.waitFor(() => expect(rollbacks).toHaveLength(1));
    expect(rollbacks[0]?.acquireStack).toMatch(/handlerThatLeavesATransactionOpen/);
  });

  it("when off (the default), no stack is captured at all", async () => {
    const pool = new Pool({ connectionString: db.url });
    cleanups.push(() => pool.end());
    const rollbacks = listen<ConnectionSessionEvent>(channelNames.connectionRollback, pool);
    await handlerThatLeavesATransactionOpen(pool);
    await vi.waitFor(() => expect(rollbacks).toHaveLength(1));
    expect(rollbacks[0]?.acquireStack).toBeUndefined();
  });

  it("plain pg.Pool: a forgotten client is never reported, and the next caller waits forever", async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    pool.on("error", () => undefined);
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    cleanups.push(async () => process.off("warning", onWarning));
    const events: string[] = [];
    for (const name of ["error", "remove", "release"] as const) {
      pool.on(name, () => events.push(name));
    }

    const leaked = await pool.connect();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    let served = false;
    const next = pool.connect().then((client) => {
      served = true;
      return client;
    });
    await vi.advanceTimersByTimeAsync(3_600_000); // an hour later
    await turns();
    expect(served).toBe(false);
    expect(pool.waitingCount).toBe(1);
    expect(warnings).toEqual([]);
    expect(events).toEqual([]);
    vi.useRealTimers();
    leaked.release();
    (await next).release();
    await pool.end();
  });
});
