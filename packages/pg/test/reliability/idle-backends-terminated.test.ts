/**
 * docs/reliability.md, "All idle backends terminated": every idle backend is terminated (a DBA, a failover, a server-side idle timeout) or
 * every idle connection is reset by the network; the next 1,000 queries must see no error.
 */
import { startFaultProxy, useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Pool } from "../../src/index.js";
import { backendPids, terminate } from "../helpers.js";
import { maxSampler, report } from "./support.js";

const db = useTestDatabase();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const MAX = 10;
const QUERIES = 1000;
const CONCURRENCY = 10;

interface Outcome {
  errors: unknown[];
  pids: Set<number>;
  millis: number;
}

/** 1,000 `select pg_backend_pid()` through `pool.query`, 10 at a time. */
async function thousandQueries(pool: pg.Pool): Promise<Outcome> {
  const errors: unknown[] = [];
  const pids = new Set<number>();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < QUERIES) {
        next++;
        try {
          const { rows } = await pool.query<{ pid: number }>("select pg_backend_pid() as pid");
          pids.add(rows[0]?.pid as number);
        } catch (error) {
          errors.push(error);
        }
      }
    }),
  );
  return { errors, pids, millis: performance.now() - started };
}

function lifeguard(url: string): Pool {
  const pool = new Pool({ connectionString: url, max: MAX });
  cleanups.push(() => pool.end());
  return pool;
}

function plain(url: string, idleErrors: Error[]): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: MAX });
  // without this listener plain pg.Pool crashes the process (crash-traps.test.ts)
  pool.on("error", (error) => idleErrors.push(error));
  cleanups.push(() => pool.end());
  return pool;
}

describe("all idle backends terminated (pg_terminate_backend)", () => {
  it("Lifeguard: the next 1,000 queries see 0 errors and never reach a dead backend", async () => {
    const pool = lifeguard(db.url);
    const pids = await backendPids(pool, MAX);
    expect(new Set(pids).size).toBe(MAX);
    expect(pool.idleCount).toBe(MAX);
    await terminate(db.url, pids);

    const total = maxSampler(() => pool.totalCount);
    const outcome = await thousandQueries(pool);
    total.stop();

    expect(outcome.errors).toEqual([]);
    for (const pid of pids) expect(outcome.pids.has(pid)).toBe(false);
    const stats = pool.stats();
    // every dead connection was caught by the free local check (stage 1), none by a query
    expect(stats.counters.destroys.broken + stats.counters.destroys["ping-failed"]).toBe(MAX);
    expect(stats.connector["idleErrors"]).toBe(MAX);
    expect(total.max()).toBeLessThanOrEqual(MAX);
    report("idle-terminated-lifeguard", {
      errors: outcome.errors.length,
      millis: Math.round(outcome.millis),
      replaced: stats.counters.creates - MAX,
      maxTotal: total.max(),
    });
  });

  it("plain pg.Pool (with the 'error' listener it needs): drops them on the idle 'error' event", async () => {
    const idleErrors: Error[] = [];
    const pool = plain(db.url, idleErrors);
    const pids = await backendPids(pool as unknown as Pool, MAX);
    await terminate(db.url, pids);

    const outcome = await thousandQueries(pool);

    // each idle client reported its death to the pool's listener, and pg.Pool removed it
    expect(idleErrors).toHaveLength(MAX);
    expect(outcome.errors).toEqual([]);
    for (const pid of pids) expect(outcome.pids.has(pid)).toBe(false);
    report("idle-terminated-pg", {
      errors: outcome.errors.length,
      idleErrorEvents: idleErrors.length,
      millis: Math.round(outcome.millis),
    });
  });
});

describe("all idle connections reset by the network (fault proxy cut)", () => {
  it("Lifeguard: once the resets reach the client, the next 1,000 queries see 0 errors", async () => {
    const proxy = await startFaultProxy(db.url);
    cleanups.push(() => proxy.close());
    const pool = lifeguard(proxy.url(db.url));
    const pids = await backendPids(pool, MAX);
    expect(proxy.connections).toBe(MAX);
    const accepted = proxy.accepted;

    proxy.cut();
    await vi.waitFor(() => expect(pool.stats().connector["idleErrors"]).toBe(MAX));
    const outcome = await thousandQueries(pool);

    expect(outcome.errors).toEqual([]);
    for (const pid of pids) expect(outcome.pids.has(pid)).toBe(false);
    expect(proxy.accepted - accepted).toBeLessThanOrEqual(MAX);
    expect(pool.totalCount).toBeLessThanOrEqual(MAX);
    report("idle-cut-lifeguard", {
      errors: outcome.errors.length,
      millis: Math.round(outcome.millis),
      reconnects: proxy.accepted - accepted,
    });
  });

  it("plain pg.Pool (with an 'error' listener): also 0 errors once every reset was seen", async () => {
    const proxy = await startFaultProxy(db.url);
    cleanups.push(() => proxy.close());
    const idleErrors: Error[] = [];
    const pool = plain(proxy.url(db.url), idleErrors);
    await backendPids(pool as unknown as Pool, MAX);

    proxy.cut();
    await vi.waitFor(() => expect(idleErrors).toHaveLength(MAX));
    const outcome = await thousandQueries(pool);

    expect(outcome.errors).toEqual([]);
    report("idle-cut-pg", {
      errors: outcome.errors.length,
      idleErrorEvents: idleErrors.length,
      millis: Math.round(outcome.millis),
    });
  });

  // Queries sent in the same event-loop turn as the reset, before Node has read it: no pool can
  // know yet (the free local check sees a live socket). What must hold is that each dead
  // connection costs at most one query, with a connection error, and that the pool heals.
  it.each(["lifeguard", "pg"] as const)(
    "%s: queries racing the reset fail at most once per dead connection, then all succeed",
    async (impl) => {
      const proxy = await startFaultProxy(db.url);
      cleanups.push(() => proxy.close());
      const idleErrors: Error[] = [];
      const pool =
        impl === "lifeguard" ? lifeguard(proxy.url(db.url)) : plain(proxy.url(db.url), idleErrors);
      if (impl === "lifeguard") pool.on("error", (error) => idleErrors.push(error));
      await backendPids(pool as Pool, MAX);

      proxy.cut();
      const outcome = await thousandQueries(pool);

      expect(outcome.errors.length).toBeLessThanOrEqual(MAX);
      for (const error of outcome.errors) {
        expect((error as { code?: string }).code).toBe("ECONNRESET");
      }
      // after the first wave every query succeeded: the dead connections were all replaced
      const { rows } = await pool.query("select 1 as one");
      expect(rows).toEqual([{ one: 1 }]);
      expect(pool.totalCount).toBeLessThanOrEqual(MAX);
      report(`idle-cut-racing-${impl}`, {
        errors: outcome.errors.length,
        idleErrorEvents: idleErrors.length,
      });
    },
  );
});
