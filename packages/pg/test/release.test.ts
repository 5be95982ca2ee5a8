import { LeaseReleasedError } from "@lifeguard/core";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { Pool } from "../src/index.js";

const db = useTestDatabase();
const pools: { end(): Promise<void> }[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.end().catch(() => undefined);
});

describe("double and stale release", () => {
  it("a second release() throws and the lease stays with its holder (Lifeguard)", async () => {
    const pool = new Pool({ connectionString: db.url, max: 1 });
    pools.push(pool);
    const a = await pool.connect();
    a.release();
    const b = await pool.connect(); // the same backend, now b's
    expect(() => a.release()).toThrow(LeaseReleasedError);
    expect(pool.stats()).toMatchObject({ leased: 1, idle: 0 });
    await expect(b.query("select 1 as one")).resolves.toMatchObject({ rows: [{ one: 1 }] });
    b.release();
  });

  it("a stale handle cannot query on another borrower's session", async () => {
    const pool = new Pool({ connectionString: db.url, max: 1 });
    pools.push(pool);
    const a = await pool.connect();
    a.release();
    const b = await pool.connect();
    expect(() => a.query("select 1")).toThrow(LeaseReleasedError);
    b.release();
  });

  it("plain pg.Pool lets a stale release() release the next borrower's client (its known behaviour)", async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    pools.push(pool);
    const a = await pool.connect();
    a.release();
    const b = await pool.connect();
    expect(b).toBe(a); // the very same object
    a.release(); // the stale call goes through: b's lease is released behind b's back
    expect(pool.idleCount).toBe(1);
    expect(() => b.release()).toThrow(/already been released/);
  });
});

describe("the pg.Pool surface", () => {
  it("connect() with a callback hands out a real pg.Client and a done function", async () => {
    const pool = new Pool({ connectionString: db.url, max: 1 });
    pools.push(pool);
    const { client, done } = await new Promise<{
      client: pg.PoolClient;
      done: (e?: unknown) => void;
    }>((resolve, reject) =>
      pool.connect((error, c, d) =>
        error || c === undefined ? reject(error) : resolve({ client: c, done: d }),
      ),
    );
    expect(client).toBeInstanceOf(pg.Client);
    expect(pool).toBeInstanceOf(pg.Pool);
    done();
    expect(pool.idleCount).toBe(1);
  });

  it("query() with a callback, and with values and a callback", async () => {
    const pool = new Pool({ connectionString: db.url });
    pools.push(pool);
    const one = await new Promise((resolve, reject) =>
      pool.query("select 1 as n", (error, result) =>
        error ? reject(error) : resolve(result.rows[0]),
      ),
    );
    const two = await new Promise((resolve, reject) =>
      pool.query("select $1::int as n", [2], (error, result) =>
        error ? reject(error) : resolve(result.rows[0]),
      ),
    );
    expect([one, two]).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it("emits connect, acquire, release and remove, and keeps the counts", async () => {
    const pool = new Pool({ connectionString: db.url, max: 2 });
    const events: string[] = [];
    for (const name of ["connect", "acquire", "release", "remove"])
      pool.on(name as "connect", () => events.push(name));
    const a = await pool.connect();
    expect(pool.totalCount).toBe(1);
    const waiting = pool.connect();
    const b = await waiting;
    expect([pool.totalCount, pool.idleCount, pool.waitingCount]).toEqual([2, 0, 0]);
    a.release();
    b.release(true); // destroys b
    await pool.end();
    expect(events.filter((e) => e === "connect")).toHaveLength(2);
    expect(events.filter((e) => e === "acquire")).toHaveLength(2);
    expect(events.filter((e) => e === "release")).toHaveLength(2);
    expect(events.filter((e) => e === "remove")).toHaveLength(2);
    expect(pool.ended).toBe(true);
  });

  it("end() with a callback, twice, is fine", async () => {
    const pool = new Pool({ connectionString: db.url });
    await pool.query("select 1");
    await new Promise<void>((resolve) => pool.end(resolve));
    await expect(pool.end()).resolves.toBeUndefined();
    await expect(pool.query("select 1")).rejects.toMatchObject({ code: "LIFEGUARD_POOL_CLOSED" });
  });

  it("await using releases a client and ends a pool", async () => {
    let outer: Pool;
    {
      await using pool = new Pool({ connectionString: db.url, max: 1 });
      outer = pool;
      {
        await using client = await pool.connect();
        await client.query("select 1");
      }
      expect(pool.idleCount).toBe(1);
    }
    expect(outer.ended).toBe(true);
  });
});
