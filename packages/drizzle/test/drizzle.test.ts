import { AcquireTimeoutError, InvalidOptionError, ManualClock } from "@lifeguard/core";
import { Pool } from "@lifeguard/pg";
import { conformanceTable, useTestDatabase, withClient } from "@lifeguard/test-fixtures";
import { DrizzleQueryError, sql } from "drizzle-orm";
import type { Logger } from "drizzle-orm/logger";
import pg from "pg";
import { afterEach, beforeAll, describe, expect, expectTypeOf, it, vi } from "vitest";
import { drizzle, type LifeguardDatabase } from "../src/index.js";
import { items } from "./subject.js";

const db = useTestDatabase();
const pools: { end(): Promise<void> }[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.end().catch(() => undefined);
});

function track<T extends LifeguardDatabase<Record<string, unknown>>>(database: T): T {
  pools.push(database.$client);
  return database;
}

beforeAll(async () => {
  await withClient(db.url, (admin) =>
    admin.query(`create table ${conformanceTable} (id integer primary key, label text not null)`),
  );
});

async function selectOne(database: LifeguardDatabase<Record<string, unknown>>) {
  const result = await database.execute(sql`select 1 as one`);
  return result.rows;
}

describe("drizzle() call forms", () => {
  it("a connection string", async () => {
    const database = track(drizzle(db.url));
    expect(database.$client).toBeInstanceOf(Pool);
    expect(await selectOne(database)).toEqual([{ one: 1 }]);
  });

  it("a connection string and a config with pool options", async () => {
    const logged: string[] = [];
    const logger: Logger = { logQuery: (query) => logged.push(query) };
    const database = track(drizzle(db.url, { logger, pool: { max: 3, name: "orders" } }));
    expect(database.$client.stats()).toMatchObject({ name: "orders", max: 3 });
    await selectOne(database);
    expect(logged).toEqual(["select 1 as one"]);
  });

  it("{ connection: string, pool, ...drizzleConfig }", async () => {
    const database = track(
      drizzle({ connection: db.url, schema: { items }, pool: { max: 2, prePing: false } }),
    );
    expect(database.$client.stats().max).toBe(2);
    await database.insert(items).values({ id: 1, label: "one" }).onConflictDoNothing();
    // the relational query API needs the schema: drizzle's own config passed through
    expect(await database.query.items.findFirst({ where: (t, { eq }) => eq(t.id, 1) })).toEqual({
      id: 1,
      label: "one",
    });
  });

  it("{ connection: PoolConfig } with Lifeguard's options flat beside pg's, as new Pool() takes them", async () => {
    const database = track(
      drizzle({ connection: { connectionString: db.url, max: 4, reset: "always" } }),
    );
    expect(database.$client.stats().max).toBe(4);
    expect(await selectOne(database)).toEqual([{ one: 1 }]);
  });

  it("{ client: Pool } and a Pool as the first argument use that pool", async () => {
    const pool = new Pool({ connectionString: db.url, max: 2 });
    pools.push(pool);
    const a = drizzle({ client: pool });
    const b = drizzle(pool, { logger: false });
    expect(a.$client).toBe(pool);
    expect(b.$client).toBe(pool);
    expect(await selectOne(a)).toEqual([{ one: 1 }]);
    expect(await selectOne(b)).toEqual([{ one: 1 }]);
  });

  it("types $client as the Lifeguard Pool", () => {
    expectTypeOf(drizzle).returns.toHaveProperty("$client").toEqualTypeOf<Pool>();
  });
});

describe("drizzle recognises the Lifeguard Pool as a pool", () => {
  // drizzle-orm/node-postgres's transaction() checks `client instanceof pg.Pool ||
  // constructor.name.includes("Pool")`; if neither held, each statement would go through
  // pool.query() on whatever connection was free and transactions would silently not be atomic
  it("by both of drizzle's checks", () => {
    const database = track(drizzle(db.url));
    expect(database.$client).toBeInstanceOf(pg.Pool);
    expect(Object.getPrototypeOf(database.$client).constructor.name).toContain("Pool");
  });

  it("so concurrent transactions each keep one backend and one transaction id", async () => {
    const database = track(drizzle(db.url, { pool: { max: 3 } }));
    const identity = sql`select pg_backend_pid() as pid, txid_current()::text as xid`;
    const runs = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        database.transaction(async (tx) => {
          const first = (await tx.execute(identity)).rows[0];
          await tx.execute(sql`select count(*) from pg_class`);
          await tx.execute(sql`select ${i}::int`);
          const last = (await tx.execute(identity)).rows[0];
          return { first, last };
        }),
      ),
    );
    for (const { first, last } of runs) expect(last).toEqual(first);
    expect(new Set(runs.map((r) => (r.first as { xid: string }).xid)).size).toBe(12);
  });
});

describe("named prepared statements with reset: 'always'", () => {
  it("keep working although every release deallocates them", async () => {
    const database = track(drizzle(db.url, { pool: { max: 1, reset: "always" } }));
    await database.insert(items).values({ id: 7, label: "seven" }).onConflictDoNothing();
    const lookup = database
      .select()
      .from(items)
      .where(sql`${items.id} = ${sql.placeholder("id")}`)
      .prepare("lookup_always");
    for (let i = 0; i < 5; i++) {
      expect(await lookup.execute({ id: 7 })).toEqual([{ id: 7, label: "seven" }]);
    }
    expect(database.$client.stats().connector["resets"]).toBeGreaterThanOrEqual(5);
  });
});

describe("Lifeguard's errors through Drizzle", () => {
  it("reach a query as the cause of DrizzleQueryError, and db.transaction() as they are", async () => {
    const clock = new ManualClock();
    const database = track(
      drizzle(db.url, { pool: { max: 1, acquireTimeoutMillis: 1000, clock } }),
    );
    const held = await database.$client.connect();
    try {
      const query = database.execute(sql`select 1`).catch((error: unknown) => error);
      const transaction = database
        .transaction(async () => undefined)
        .catch((error: unknown) => error);
      await vi.waitFor(() => expect(database.$client.stats().pending).toBe(2));
      await clock.advance(1000);
      const [queryError, transactionError] = await Promise.all([query, transaction]);
      expect(queryError).toBeInstanceOf(DrizzleQueryError);
      expect((queryError as DrizzleQueryError).cause).toBeInstanceOf(AcquireTimeoutError);
      expect(transactionError).toBeInstanceOf(AcquireTimeoutError);
    } finally {
      held.release();
    }
  });
});

describe("invalid set-ups fail at once, naming the problem", () => {
  it("a plain pg.Pool as client", () => {
    const plain = new pg.Pool({ connectionString: db.url });
    pools.push(plain);
    expect(() => drizzle({ client: plain as never })).toThrow(InvalidOptionError);
    expect(() => drizzle({ client: plain as never })).toThrow(/drizzle-orm\/node-postgres/);
    expect(() => drizzle(plain as never)).toThrow(/got a BoundPool.*drizzle-orm\/node-postgres/);
  });

  it("pool options beside an existing pool", () => {
    const pool = new Pool({ connectionString: db.url });
    pools.push(pool);
    expect(() => drizzle({ client: pool, pool: { max: 2 } } as never)).toThrow(
      /Set the options where that Pool is created/,
    );
    expect(() => drizzle(pool, { pool: { max: 2 } } as never)).toThrow(InvalidOptionError);
  });

  it("an option given both in connection and in pool", () => {
    expect(() =>
      drizzle({ connection: { connectionString: db.url, max: 3 }, pool: { max: 4 } }),
    ).toThrow(/"max" is given both in "connection" and in "pool"/);
  });

  it("an unknown pool option, with the closest name", () => {
    expect(() => drizzle(db.url, { pool: { maxWaitng: 3 } as never })).toThrow(
      /Unknown option "pool.maxWaitng". Did you mean "pool.maxWaiting"\?/,
    );
    // pg's connection settings do not belong in pool
    expect(() => drizzle(db.url, { pool: { host: "localhost" } as never })).toThrow(
      /Unknown option "pool.host"/,
    );
  });

  it("an invalid value, through Lifeguard's own validation", () => {
    expect(() => drizzle(db.url, { pool: { max: 0 } })).toThrow(/Invalid option "max"/);
  });

  it("no connection at all", () => {
    expect(() => drizzle({} as never)).toThrow(/"connection" is missing/);
  });
});
