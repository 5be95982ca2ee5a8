import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Pool } from "../src/index.js";
import { backendPids, pidOf, terminate } from "./helpers.js";

const db = useTestDatabase();
const pools: { end(): Promise<void> }[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.end().catch(() => undefined);
});

function lifeguard(config: ConstructorParameters<typeof Pool>[0] = {}): Pool {
  const pool = new Pool({ connectionString: db.url, ...config });
  pools.push(pool);
  return pool;
}

describe("terminated idle backends", () => {
  it("are never handed out: pre-ping replaces them and no error reaches the caller", async () => {
    const pool = lifeguard({ max: 4, prePing: { bypassWindowMillis: 0 } });
    const pids = await backendPids(pool, 4);
    await terminate(db.url, pids);
    const errors: unknown[] = [];
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) {
      try {
        const { rows } = await pool.query<{ pid: number }>("select pg_backend_pid() as pid");
        seen.add(rows[0]?.pid as number);
      } catch (error) {
        errors.push(error);
      }
    }
    expect(errors).toEqual([]);
    for (const pid of pids) expect(seen.has(pid)).toBe(false);
    expect(
      pool.stats().counters.destroys.broken + pool.stats().counters.destroys["ping-failed"],
    ).toBe(4);
  });

  it("never crash the process, with or without an 'error' listener, and are counted", async () => {
    const pool = lifeguard({ max: 2 });
    const pids = await backendPids(pool, 2);
    await terminate(db.url, pids);
    // the server is done with them; the clients hear of it when their sockets deliver the news
    await vi.waitFor(() => expect(pool.stats().connector["idleErrors"]).toBe(2));
    // no 'error' listener is attached: pg.Pool would throw an unhandled 'error' here (pg #1324)
    await expect(pool.query("select 1 as one")).resolves.toMatchObject({ rows: [{ one: 1 }] });
    expect(pool.stats().connector["idleErrors"]).toBe(2);
  });

  it("are reported to 'error' listeners when there are some", async () => {
    const pool = lifeguard({ max: 1 });
    const reported: Error[] = [];
    pool.on("error", (error) => reported.push(error));
    const [pid] = await backendPids(pool, 1);
    await terminate(db.url, [pid as number]);
    await vi.waitFor(() => expect(reported).toHaveLength(1));
    await pool.query("select 1");
    expect(reported).toHaveLength(1);
    expect(reported[0]?.message).toMatch(/terminat/i);
  });
});

describe("a backend terminated while checked out", () => {
  it("fails that query, does not crash the process, and the client is replaced after release", async () => {
    const pool = lifeguard({ max: 1 });
    const client = await pool.connect();
    const pid = await pidOf(client);
    await terminate(db.url, [pid]);
    await expect(client.query("select 1")).rejects.toThrow();
    client.release();
    const next = await pool.connect();
    expect(await pidOf(next)).not.toBe(pid);
    next.release();
  });

  it("a dead connection passed to release(err) is closed alone; the older live ones are kept", async () => {
    const pool = lifeguard({ max: 3 });
    const [a, b, c] = [await pool.connect(), await pool.connect(), await pool.connect()];
    const pidC = await pidOf(c);
    const older = [await pidOf(a), await pidOf(b)];
    await terminate(db.url, [pidC]);
    const error = await c.query("select 1").catch((e: unknown) => e);
    c.release(error as Error);
    a.release();
    b.release();
    await pool.query("select 1");
    // one terminated backend is no evidence the server went away: the others are pinged, not retired
    expect(pool.stats().counters.destroys.broken).toBe(1);
    expect(pool.stats().counters.destroys.evicted).toBe(0);
    expect((await backendPids(pool, 2)).sort()).toEqual(older.sort());
  });

  it("an error evictOnSqlState lists, sent by the server, retires older connections too (failover)", async () => {
    const pool = lifeguard({ max: 3, evictOnSqlState: ["08", "57P01", "57P02", "57P03", "25006"] });
    const [a, b, c] = [await pool.connect(), await pool.connect(), await pool.connect()];
    await c.query("begin read only");
    const error = await c.query("create temp table t (id int)").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "25006" });
    c.release(error as Error);
    a.release();
    b.release();
    await pool.query("select 1");
    expect(pool.stats().counters.destroys.error).toBe(1);
    expect(pool.stats().counters.destroys.evicted).toBe(2);
  });
});

describe("pool.query with a statement error", () => {
  it("keeps the same backend (Lifeguard)", async () => {
    const pool = lifeguard({ max: 1 });
    await pool.query("create table if not exists uniq (id int primary key)");
    await pool.query("insert into uniq values (1) on conflict do nothing");
    const before = (await pool.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]
      ?.pid;
    await expect(pool.query("insert into uniq values (1)")).rejects.toMatchObject({
      code: "23505",
    });
    await expect(pool.query("selec 1")).rejects.toMatchObject({ code: "42601" });
    const after = (await pool.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]
      ?.pid;
    expect(after).toBe(before);
  });

  it("plain pg.Pool throws the backend away on any error (its known behaviour)", async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    pools.push(pool);
    await pool.query("create table if not exists uniq (id int primary key)");
    await pool.query("insert into uniq values (1) on conflict do nothing");
    const before = (await pool.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]
      ?.pid;
    await expect(pool.query("insert into uniq values (1)")).rejects.toMatchObject({
      code: "23505",
    });
    const after = (await pool.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]
      ?.pid;
    expect(after).not.toBe(before);
  });
});

describe("a backend that dies while its released client still runs a statement", () => {
  it("frees the slot when the connection ends, not when the clean-up bound runs out", async () => {
    // a clean-up bound far beyond the acquire deadline: only the connection's end can free the slot
    const pool = lifeguard({
      max: 1,
      connectionTimeoutMillis: 5_000,
      cleanupTimeoutMillis: 60_000,
    });
    const client = await pool.connect();
    const pid = await pidOf(client);
    const running = client.query("select pg_sleep(30)").catch((error: Error) => error);
    // released mid-statement (Knex and Drizzle do this when a caller gives up on a query)
    client.release();
    await terminate(db.url, [pid]);
    expect(await running).toBeInstanceOf(Error);
    const { rows } = await pool.query<{ pid: number }>("select pg_backend_pid() as pid");
    expect(rows[0]?.pid).not.toBe(pid);
    // its clean-up could not run: the connection was closed, not handed to anyone
    expect(pool.stats().counters.destroys["reset-failed"]).toBe(1);
  });
});
