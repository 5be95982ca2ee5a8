/**
 * docs/reliability.md, "A checked-out backend terminated": the backend of a checked-out client is terminated mid-query. That query rejects,
 * the process lives, other borrowers carry on, and the pool heals.
 */

import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { type ConnectionAcquireEvent, channelNames } from "@lifeguard/core";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Pool } from "../../src/index.js";
import { pidOf, terminate } from "../helpers.js";
import { report } from "./support.js";

const db = useTestDatabase();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const MAX = 4;

/** Waits until the backend runs the long query, so the termination hits it mid-flight. */
async function waitUntilRunning(pid: number): Promise<void> {
  await vi.waitFor(async () => {
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ state: string }>(
        "select state from pg_stat_activity where pid = $1",
        [pid],
      );
      expect(rows[0]?.state).toBe("active");
    } finally {
      await admin.end();
    }
  });
}

/** Background work on the other connections while the termination happens. */
function otherWork(pool: pg.Pool, stop: () => boolean): Promise<unknown[]> {
  const errors: unknown[] = [];
  return Promise.all(
    Array.from({ length: MAX - 1 }, async () => {
      while (!stop()) {
        try {
          await pool.query("select 1");
        } catch (error) {
          errors.push(error);
        }
      }
    }),
  ).then(() => errors);
}

describe("a checked-out backend terminated mid-query", () => {
  it("Lifeguard, pool.connect(): that query rejects, the process lives, others carry on, the pool heals", async () => {
    const pool = new Pool({ connectionString: db.url, max: MAX });
    cleanups.push(() => pool.end());
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on("uncaughtException", onUncaught);
    cleanups.push(async () => process.off("uncaughtException", onUncaught));

    const client = await pool.connect();
    const pid = await pidOf(client);
    // the application attached no 'error' listener of its own; Lifeguard always has one
    expect(client.listenerCount("error")).toBeGreaterThan(0);
    const running = client.query("select pg_sleep(30)").then(
      () => undefined,
      (error: unknown) => error,
    );
    let stop = false;
    const others = otherWork(pool, () => stop);
    await waitUntilRunning(pid);
    await terminate(db.url, [pid]);

    const error = (await running) as { code?: string; message?: string };
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe("57P01"); // terminating connection due to administrator command
    stop = true;
    expect(await others).toEqual([]);
    client.release();

    const next = await pool.connect();
    expect(await pidOf(next)).not.toBe(pid);
    next.release();
    const stats = pool.stats();
    expect(stats.counters.destroys.broken).toBe(1);
    expect(stats.total).toBeLessThanOrEqual(MAX);
    expect(uncaught).toEqual([]);
    report("checked-out-lifeguard-connect", {
      queryError: error.code,
      otherErrors: 0,
      destroys: stats.counters.destroys,
    });
  });

  it("Lifeguard, pool.query(): rejects with 57P01, closes that connection, keeps the older live ones", async () => {
    const pool = new Pool({ connectionString: db.url, max: MAX });
    cleanups.push(() => pool.end());
    const warm = await Promise.all(Array.from({ length: MAX }, () => pool.connect()));
    for (const c of warm) c.release();

    let pid = 0;
    let connectionId = 0;
    const onAcquire = (message: unknown) => {
      connectionId = (message as ConnectionAcquireEvent).connectionId;
    };
    pool.once("acquire", (client: pg.PoolClient) => {
      pid = (client as unknown as { processID: number }).processID;
    });
    subscribe(channelNames.connectionAcquire, onAcquire);
    const running = pool.query("select pg_sleep(30)").then(
      () => undefined,
      (error: unknown) => error,
    );
    unsubscribe(channelNames.connectionAcquire, onAcquire);
    await vi.waitFor(() => expect(pid).not.toBe(0));
    await waitUntilRunning(pid);
    await terminate(db.url, [pid]);

    expect(await running).toMatchObject({ code: "57P01" });
    const { rows } = await pool.query<{ pid: number }>("select pg_backend_pid() as pid");
    expect(rows[0]?.pid).not.toBe(pid);
    const stats = pool.stats();
    expect(stats.counters.destroys.broken).toBe(1);
    // one terminated backend is no evidence the server went away: the older connections are
    // checked (pinged) before they are lent again, not retired
    expect(connectionId).toBeGreaterThan(0);
    expect(stats.counters.destroys.evicted).toBe(0);
    expect(stats.total).toBeLessThanOrEqual(MAX);
    report("checked-out-lifeguard-query", {
      queryError: "57P01",
      healthyConnectionsRetired: stats.counters.destroys.evicted,
      destroys: stats.counters.destroys,
    });
  });

  it("plain pg.Pool, pool.query(): also rejects and heals (pool.query adds a listener); pool.connect() without one crashes (crash-traps.test.ts)", async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: MAX });
    cleanups.push(() => pool.end());
    let pid = 0;
    pool.once("acquire", (client: pg.PoolClient) => {
      pid = (client as unknown as { processID: number }).processID;
    });
    const running = pool.query("select pg_sleep(30)").then(
      () => undefined,
      (error: unknown) => error,
    );
    await vi.waitFor(() => expect(pid).not.toBe(0));
    await waitUntilRunning(pid);
    await terminate(db.url, [pid]);
    expect(await running).toMatchObject({ code: "57P01" });
    const { rows } = await pool.query<{ pid: number }>("select pg_backend_pid() as pid");
    expect(rows[0]?.pid).not.toBe(pid);
    // a checked-out pg.Pool client has no 'error' listener unless the application adds one
    const client = await pool.connect();
    expect(client.listenerCount("error")).toBe(0);
    client.release();
    report("checked-out-pg", { queryError: "57P01" });
  });
});
