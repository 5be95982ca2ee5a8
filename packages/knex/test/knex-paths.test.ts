import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "@lifeguard/pg";
import { useTestDatabase, withClient } from "@lifeguard/test-fixtures";
import knex, { type Knex } from "knex";
import type pg from "pg";
import pgModule from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LifeguardClient, lifeguardPool } from "../src/index.js";

// Knex's own paths that copy or re-create the client, or release a connection themselves, run side
// by side on Knex's default pool (client: "pg", tarn) and on LifeguardClient.

const db = useTestDatabase();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

type Setup = "tarn" | "lifeguard";
const setups: Setup[] = ["tarn", "lifeguard"];

function open(setup: Setup, config: Omit<Knex.Config, "client"> = {}): Knex {
  const client = setup === "tarn" ? "pg" : LifeguardClient;
  const instance = knex({ client, connection: db.url, ...config });
  cleanups.push(() => instance.destroy());
  return instance;
}

/** Leases out of the Lifeguard pool, or tarn's connections in use. */
function inUse(setup: Setup, instance: Knex): number {
  if (setup === "lifeguard") return lifeguardPool(instance).stats().leased;
  return (instance.client as { pool: { numUsed(): number } }).pool.numUsed();
}

let files: string;
beforeAll(async () => {
  files = await mkdtemp(join(tmpdir(), "lifeguard-knex-"));
  await mkdir(join(files, "migrations"));
  await mkdir(join(files, "seeds"));
  // Knex's documented file layout: one module per migration and per seed
  await writeFile(
    join(files, "migrations", "20260101000000_people.cjs"),
    `exports.up = (knex) => knex.schema.createTable(knex.userParams.table, (t) => { t.increments("id"); t.text("name"); });
exports.down = (knex) => knex.schema.dropTable(knex.userParams.table);
`,
  );
  await writeFile(
    join(files, "seeds", "people.cjs"),
    `exports.seed = async (knex) => { await knex(knex.userParams.table).insert([{ name: "ada" }, { name: "grace" }]); };
`,
  );
});
afterAll(() => rm(files, { recursive: true, force: true }));

describe.each(setups)("on %s", (setup) => {
  const table = `people_${setup}`;

  it("knex.migrate.latest(), knex.seed.run() and migrate.rollback() run on the instance's pool", async () => {
    const instance = open(setup, { pool: { min: 0, max: 2 } }).withUserParams({ table });
    const migrations = {
      directory: join(files, "migrations"),
      loadExtensions: [".cjs"],
      tableName: `mig_${setup}`,
    };
    const [, applied] = (await instance.migrate.latest(migrations)) as [number, string[]];
    expect(applied).toEqual(["20260101000000_people.cjs"]);
    const [seeded] = (await instance.seed.run({
      directory: join(files, "seeds"),
      loadExtensions: [".cjs"],
    })) as [string[]];
    expect(seeded).toHaveLength(1);
    expect(await instance(table).orderBy("id").pluck("name")).toEqual(["ada", "grace"]);
    const [, rolledBack] = (await instance.migrate.rollback(migrations)) as [number, string[]];
    expect(rolledBack).toEqual(["20260101000000_people.cjs"]);
    expect(inUse(setup, instance)).toBe(0);
    if (setup === "lifeguard") {
      expect(lifeguardPool(instance).stats().counters.acquires).toBeGreaterThan(3);
    }
  });

  it("withUserParams() gives a clone on the same pool", async () => {
    const instance = open(setup, { pool: { min: 0, max: 2 } });
    const clone = instance.withUserParams({ tenant: "a" });
    expect(clone.userParams).toEqual({ tenant: "a" });
    expect(await clone.raw("select 1 as one")).toMatchObject({ rows: [{ one: 1 }] });
    await clone.transaction(async (trx) => {
      expect(await trx.raw("select 2 as two")).toMatchObject({ rows: [{ two: 2 }] });
    });
    if (setup === "lifeguard") expect(lifeguardPool(clone)).toBe(lifeguardPool(instance));
    else expect(clone.client.pool).toBe(instance.client.pool);
  });

  it("Knex releasing the same connection twice (as its streams do) is harmless", async () => {
    const instance = open(setup, { pool: { min: 0, max: 1 } });
    const connection = await instance.client.acquireConnection();
    await instance.client.releaseConnection(connection);
    await expect(instance.client.releaseConnection(connection)).resolves.toBeUndefined();
    expect(inUse(setup, instance)).toBe(0);
    // the connection is lent again; a late second release by the earlier user: tarn takes the
    // connection back from its new borrower, Lifeguard ignores it (each lease has its own handle)
    const again = await instance.client.acquireConnection();
    expect(inUse(setup, instance)).toBe(1);
    await instance.client.releaseConnection(connection);
    expect(inUse(setup, instance)).toBe(setup === "tarn" ? 0 : 1);
    await instance.client.releaseConnection(again);
    expect(inUse(setup, instance)).toBe(0);
  });

  it("for await over knex.raw(...).stream() reads every row and gives the connection back", async () => {
    const instance = open(setup, { pool: { min: 0, max: 1 } });
    const rows: number[] = [];
    for await (const row of instance.raw("select generate_series(1, 5) as n").stream()) {
      rows.push((row as { n: number }).n);
    }
    expect(rows).toEqual([1, 2, 3, 4, 5]);
    // the only connection is free again: the next query gets it
    expect(await instance.raw("select 1 as one")).toMatchObject({ rows: [{ one: 1 }] });
    expect(inUse(setup, instance)).toBe(0);
  });

  it("a query builder's .stream(), left early with break, gives the connection back", async () => {
    const instance = open(setup, { pool: { min: 0, max: 1 } });
    const rows: number[] = [];
    const query = instance.select("n").from(instance.raw("generate_series(1, 1000) as n"));
    for await (const row of query.stream()) {
      rows.push((row as { n: number }).n);
      if (rows.length === 3) break;
    }
    expect(rows).toEqual([1, 2, 3]);
    expect(await instance.raw("select 1 as one")).toMatchObject({ rows: [{ one: 1 }] });
    expect(inUse(setup, instance)).toBe(0);
  });

  it(".stream(handler) with a pipe gives the connection back", async () => {
    const instance = open(setup, { pool: { min: 0, max: 1 } });
    const rows: unknown[] = [];
    await instance.raw("select generate_series(1, 3) as n").stream((stream) => {
      stream.on("data", (row: unknown) => rows.push(row));
    });
    expect(rows).toHaveLength(3);
    expect(await instance.raw("select 1 as one")).toMatchObject({ rows: [{ one: 1 }] });
  });

  it("pool.afterCreate sees conn.__knexUid (Knex's own test configuration)", async () => {
    const seen: string[] = [];
    const instance = open(setup, {
      pool: {
        min: 0,
        max: 1,
        afterCreate(
          connection: pg.Client & { __knexUid?: string },
          done: (e: Error | null) => void,
        ) {
          if (connection.__knexUid === undefined) done(new Error("no __knexUid"));
          else {
            seen.push(connection.__knexUid);
            done(null);
          }
        },
      },
    });
    expect(await instance.raw("select 1 as one")).toMatchObject({ rows: [{ one: 1 }] });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/^__knexUid\d+$/);
  });

  it("pool.validate(connection) false retires the connection before it is lent (knex 3.3)", async () => {
    let refuseNext = false;
    const validated: number[] = [];
    const instance = open(setup, {
      pool: {
        min: 0,
        max: 1,
        validate(connection: pg.Client & { processID?: number }) {
          validated.push(connection.processID as number);
          if (refuseNext) {
            refuseNext = false;
            return false;
          }
          return true;
        },
      },
    });
    const pid = async (): Promise<number> =>
      ((await instance.raw("select pg_backend_pid() as pid")) as { rows: { pid: number }[] })
        .rows[0]?.pid as number;
    const first = await pid();
    expect(await pid()).toBe(first);
    refuseNext = true;
    const second = await pid();
    expect(second).not.toBe(first);
    expect(validated).toContain(first);
    await withClient(db.url, async (admin) => {
      const { rows } = await admin.query<{ n: number }>(
        "select count(*)::int as n from pg_stat_activity where pid = $1",
        [first],
      );
      // the refused connection is closed, not returned to the pool
      expect(rows[0]?.n).toBe(0);
    });
  });
});

it("pool.validate refusing every connection fails the acquire after max + 1 tries (tarn: at the deadline)", async () => {
  let calls = 0;
  const instance = open("lifeguard", {
    pool: {
      min: 0,
      max: 2,
      validate: () => {
        calls++;
        return false;
      },
    },
  });
  const error = await instance.raw("select 1").catch((e: unknown) => e);
  expect(error).toBeInstanceOf(knex.KnexTimeoutError);
  expect((error as Error).message).toMatch(/pool\.validate refused 3 connections in a row/);
  expect(calls).toBe(3);
  expect(lifeguardPool(instance).stats().leased).toBe(0);
});

it("the pg drop-in still refuses an application's second release of a client", async () => {
  const pool = new Pool({ connectionString: db.url, max: 1 });
  cleanups.push(() => pool.end());
  const client = await pool.connect();
  client.release();
  expect(() => client.release()).toThrow(/already released/);
});

describe("knex 3.3's connectionPool with Knex's own client: 'pg'", () => {
  it.each(["pg.Pool", "Lifeguard Pool"] as const)(
    "runs queries and transactions on a %s",
    async (kind) => {
      const shared =
        kind === "pg.Pool"
          ? new pgModule.Pool({ connectionString: db.url, max: 2 })
          : new Pool({ connectionString: db.url, max: 2 });
      cleanups.push(() => shared.end());
      const instance = knex({ client: "pg", connectionPool: shared });
      cleanups.push(() => instance.destroy());
      expect(await instance.raw("select 1 as one")).toMatchObject({ rows: [{ one: 1 }] });
      await instance.transaction(async (trx) => {
        expect(await trx.raw("select 2 as two")).toMatchObject({ rows: [{ two: 2 }] });
      });
      await instance.destroy();
      // Knex does not own a pool passed in: it stays open
      expect(shared.ending).toBe(false);
      expect(shared.idleCount).toBeGreaterThanOrEqual(1);
    },
  );
});
