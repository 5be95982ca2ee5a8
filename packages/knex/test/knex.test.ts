import { InvalidOptionError, ManualClock, PoolClosedError } from "@lifeguard/core";
import { Pool } from "@lifeguard/pg";
import { useTestDatabase, withClient } from "@lifeguard/test-fixtures";
import knex, { type Knex } from "knex";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LifeguardClient, lifeguardPool } from "../src/index.js";

const db = useTestDatabase();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

function open(config: Omit<Knex.Config, "client"> = {}): Knex {
  const instance = knex({ client: LifeguardClient, connection: db.url, ...config });
  cleanups.push(() => instance.destroy());
  return instance;
}

async function pid(instance: Knex | Knex.Transaction): Promise<number> {
  const result = await instance.raw<{ rows: { pid: number }[] }>("select pg_backend_pid() as pid");
  return result.rows[0]?.pid as number;
}

async function show(instance: Knex, setting: string): Promise<string> {
  const result = await instance.raw<{ rows: { value: string }[] }>(
    "select current_setting(?) as value",
    [setting],
  );
  return result.rows[0]?.value as string;
}

/** Backends on the test database running `text`, seen from a separate connection. */
async function running(text: string): Promise<number> {
  return withClient(db.url, async (admin) => {
    const { rows } = await admin.query<{ n: number }>(
      "select count(*)::int as n from pg_stat_activity where state = 'active' and query = $1",
      [text],
    );
    return rows[0]?.n ?? -1;
  });
}

describe("set-up", () => {
  it("knex({ client: LifeguardClient, connection, pool }) runs on a Lifeguard Pool", async () => {
    const instance = open({ pool: { min: 1, max: 3, name: "reports", prePing: false } });
    const pool = lifeguardPool(instance);
    expect(pool).toBeInstanceOf(Pool);
    expect(pool.stats()).toMatchObject({ name: "reports", min: 1, max: 3 });
    expect(await instance.raw("select 1 as one")).toMatchObject({ rows: [{ one: 1 }] });
    await pool.warmup();
    expect(pool.stats().total).toBeGreaterThanOrEqual(1);
  });

  it("lifeguardPool() finds the pool from a transaction too", async () => {
    const instance = open({ pool: { max: 2 } });
    await instance.transaction(async (trx) => {
      expect(lifeguardPool(trx)).toBe(lifeguardPool(instance));
      expect(lifeguardPool(trx.client)).toBe(lifeguardPool(instance));
    });
  });

  it("lifeguardPool() on a Knex that does not use LifeguardClient says so", async () => {
    const plain = knex({ client: "pg", connection: db.url });
    cleanups.push(() => plain.destroy());
    expect(() => lifeguardPool(plain)).toThrow(/does not use LifeguardClient/);
  });

  it("a connection function is refused with the alternative", () => {
    expect(() =>
      knex({ client: LifeguardClient, connection: () => ({ connectionString: db.url }) }),
    ).toThrow(/password: async \(\) => token/);
  });
});

describe("pool settings map onto Lifeguard's options", () => {
  it("maxConnectionLifetimeMillis becomes maxLifetimeSeconds", async () => {
    const clock = new ManualClock();
    const instance = open({
      // idleTimeoutMillis: 0 keeps the idle connection open, so only its lifetime can retire it
      pool: {
        max: 1,
        idleTimeoutMillis: 0,
        maxConnectionLifetimeMillis: 60_000,
        clock,
        random: () => 0,
      },
    });
    const first = await pid(instance);
    await clock.advance(59_000);
    expect(await pid(instance)).toBe(first);
    await clock.advance(1_000);
    await vi.waitFor(() => expect(lifeguardPool(instance).stats().total).toBe(0));
    expect(await pid(instance)).not.toBe(first);
  });

  it("acquireConnectionTimeout is the acquire deadline (the smaller of it and pool.acquireTimeoutMillis)", async () => {
    const clock = new ManualClock();
    const instance = open({
      pool: { max: 1, acquireTimeoutMillis: 5000, clock },
      acquireConnectionTimeout: 3000,
    });
    const pool = lifeguardPool(instance);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    cleanups.push(async () => release());
    const held = instance.transaction(async () => gate);
    await vi.waitFor(() => expect(pool.stats().leased).toBe(1));

    const waiting = instance.raw("select 1 as one").then(
      () => "served",
      (error: unknown) => error,
    );
    await vi.waitFor(() => expect(pool.stats().pending).toBe(1));
    await clock.advance(2999);
    expect(pool.stats().pending).toBe(1);
    await clock.advance(1);
    const error = await waiting;
    release();
    await held;

    expect(error).toBeInstanceOf(knex.KnexTimeoutError);
    expect(error).toMatchObject({
      code: "LIFEGUARD_ACQUIRE_TIMEOUT",
      sql: "select 1 as one",
      message: expect.stringMatching(
        /Timed out after 3000 ms .*every connection is in use.*\.transacting\(trx\)/,
      ),
    });
  });

  it.each([
    ["createTimeoutMillis", 1000, /"acquireTimeoutMillis"/],
    ["createRetryIntervalMillis", 200, /backoff/],
    ["reapIntervalMillis", 1000, /"idleTimeoutMillis"/],
    ["log", (): void => undefined, /diagnostics_channel/],
  ] as const)(
    "tarn's %s, with no Lifeguard meaning, is refused naming what to use instead",
    (key, value, instead) => {
      let error: unknown;
      try {
        knex({ client: LifeguardClient, connection: db.url, pool: { [key]: value } });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect(error).toMatchObject({ option: `pool.${key}` });
      expect((error as Error).message).toMatch(
        new RegExp(`Knex pool option "${key}" is a tarn\\.js setting`),
      );
      expect((error as Error).message).toMatch(instead);
    },
  );

  it("tarn settings with a Lifeguard meaning are mapped, with one warning naming each", async () => {
    const warnings: string[] = [];
    const instance = open({
      log: { warn: (message: string) => warnings.push(message) },
      pool: {
        max: 1,
        destroyTimeoutMillis: 1234,
        maxConnectionLifetimeMillis: 100_000,
        maxConnectionLifetimeJitterMillis: 5000,
        propagateCreateError: true,
      },
    });
    expect(await instance.raw("select 1 as one")).toMatchObject({ rows: [{ one: 1 }] });
    const options = lifeguardPool(instance).options as unknown as Record<string, unknown>;
    expect(options).toMatchObject({
      shutdownTimeoutMillis: 1234,
      maxLifetimeSeconds: 100,
      lifetimeJitter: 0.05,
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/"destroyTimeoutMillis" is used as "shutdownTimeoutMillis"/);
    expect(warnings[0]).toMatch(
      /"maxConnectionLifetimeJitterMillis" is used as "lifetimeJitter: 0.05"/,
    );
    expect(warnings[0]).not.toMatch(/propagateCreateError/);
  });

  it("a mapped tarn setting given with its Lifeguard twin is refused", () => {
    expect(() =>
      knex({
        client: LifeguardClient,
        connection: db.url,
        pool: { destroyTimeoutMillis: 1000, shutdownTimeoutMillis: 2000 },
      }),
    ).toThrow(/"destroyTimeoutMillis" and "shutdownTimeoutMillis" are the same setting/);
  });

  it("propagateCreateError: false is refused: Lifeguard always passes connect failures on", () => {
    expect(() =>
      knex({ client: LifeguardClient, connection: db.url, pool: { propagateCreateError: false } }),
    ).toThrow(/"propagateCreateError" cannot be false.*DatabaseUnavailableError/);
  });

  it("an unknown pool option is refused with the closest name", () => {
    expect(() =>
      knex({ client: LifeguardClient, connection: db.url, pool: { maxWaitng: 2 } as never }),
    ).toThrow(/Unknown option "pool.maxWaitng". Did you mean "pool.maxWaiting"\?/);
  });

  it("invalid values are refused by Lifeguard's own validation, named as in the Knex config", () => {
    expect(() =>
      knex({ client: LifeguardClient, connection: db.url, pool: { min: 3, max: 2 } }),
    ).toThrow(/Invalid option "pool.min"/);
  });

  it.each([
    [0, /Invalid option "pool.max": expected an integer from 1 to 10000; got 0/],
    [-1, /Invalid option "pool.max": expected an integer from 1 to 10000; got -1/],
    [1.5, /Invalid option "pool.max"/],
  ])("pool.max %s is refused at knex({...}), before any I/O, naming the range", (max, message) => {
    let error: unknown;
    // an unreachable port: construction must not try to connect
    const connection = "postgres://nobody@127.0.0.1:1/none";
    try {
      knex({ client: LifeguardClient, connection, pool: { max } });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toMatchObject({ option: "pool.max", code: "LIFEGUARD_INVALID_OPTION" });
    expect((error as Error).message).toMatch(message);
  });

  it("Knex's default pool accepts pool.max 0 silently and fails at the first query", async () => {
    const plain = knex({ client: "pg", connection: db.url, pool: { max: 0 } });
    cleanups.push(() => plain.destroy());
    await expect(plain.raw("select 1")).rejects.toThrow(/Unable to acquire a connection/);
  });
});

describe("session set-up", () => {
  it("afterCreate and searchPath form the session baseline, restored after every reset", async () => {
    await withClient(db.url, (admin) => admin.query("create schema if not exists reporting"));
    const created: number[] = [];
    const instance = open({
      searchPath: ["reporting", "public"],
      pool: {
        max: 1,
        afterCreate(connection: pg.Client, done: (error: Error | null) => void) {
          created.push(1);
          connection.query("set timezone to 'Asia/Tokyo'").then(() => done(null), done);
        },
      },
    });
    const before = await pid(instance);
    expect(await show(instance, "timezone")).toBe("Asia/Tokyo");
    expect(await show(instance, "search_path")).toBe("reporting, public");

    // a request that changes the session makes Lifeguard reset it on release
    await instance.raw("set timezone to 'UTC'");
    await instance.raw("set search_path to public");
    expect(await show(instance, "timezone")).toBe("Asia/Tokyo");
    expect(await show(instance, "search_path")).toBe("reporting, public");
    expect(await pid(instance)).toBe(before);
    expect(created).toHaveLength(1);
    expect(lifeguardPool(instance).stats().connector["resets"]).toBe(2);
  });
});

describe("query timeouts", () => {
  it("timeout(ms, { cancel: true }) cancels the query on the server and keeps the connection", async () => {
    const instance = open({ pool: { max: 1 } });
    const before = await pid(instance);
    const sql = "select pg_sleep(60) /* cancel me */";
    const error = await instance
      .raw(sql)
      .timeout(100, { cancel: true })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(knex.KnexTimeoutError);
    expect((error as Error).message).toMatch(/Defined query timeout of 100ms exceeded/);
    await vi.waitFor(async () => expect(await running(sql)).toBe(0), { timeout: 10_000 });
    expect(await pid(instance)).toBe(before);
    expect(lifeguardPool(instance).stats().counters.destroys.error).toBe(0);
  });

  it("timeout(ms) without cancel retires the connection the query may still be running on", async () => {
    const instance = open({ pool: { max: 1 } });
    const before = await pid(instance);
    const error = await instance
      .raw("select pg_sleep(60) /* abandon me */")
      .timeout(100)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(knex.KnexTimeoutError);
    expect(await pid(instance)).not.toBe(before);
    expect(lifeguardPool(instance).stats().counters.destroys["released-destroy"]).toBe(1);
    await withClient(db.url, (admin) => admin.query("select pg_terminate_backend($1)", [before]));
  });
});

describe("knex.destroy()", () => {
  it("closes the pool; knex.initialize() opens a new one", async () => {
    const instance = open({ pool: { max: 2 } });
    await instance.raw("select 1");
    const pool = lifeguardPool(instance);
    await instance.destroy();
    expect(pool.stats().state).toBe("closed");
    expect(pool.stats().total).toBe(0);
    await expect(instance.raw("select 1")).rejects.toBeInstanceOf(PoolClosedError);

    instance.initialize();
    expect(lifeguardPool(instance)).not.toBe(pool);
    expect(await instance.raw("select 1 as one")).toMatchObject({ rows: [{ one: 1 }] });
  });

  it("leaves a pool passed as connectionPool open: it belongs to the caller", async () => {
    const shared = new Pool({ connectionString: db.url, max: 2 });
    cleanups.push(() => shared.end());
    const a = knex({ client: LifeguardClient, connectionPool: shared });
    const b = knex({ client: LifeguardClient, connectionPool: shared });
    expect(lifeguardPool(a)).toBe(shared);
    expect(await a.raw("select 1 as one")).toMatchObject({ rows: [{ one: 1 }] });
    await a.destroy();
    expect(await b.raw("select 2 as two")).toMatchObject({ rows: [{ two: 2 }] });
    await b.destroy();
    expect(shared.stats().state).toBe("open");
  });

  it("with a shared pool, timeout(ms, { cancel: true }) still cancels on the server", async () => {
    const shared = new Pool({ connectionString: db.url, max: 1 });
    cleanups.push(() => shared.end());
    const instance = knex({ client: LifeguardClient, connectionPool: shared });
    cleanups.push(() => instance.destroy());
    const sql = "select pg_sleep(60) /* cancel me too */";
    const error = await instance
      .raw(sql)
      .timeout(100, { cancel: true })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(knex.KnexTimeoutError);
    expect((error as Error).message).toMatch(/Defined query timeout of 100ms exceeded/);
    await vi.waitFor(async () => expect(await running(sql)).toBe(0), { timeout: 10_000 });
  });

  it("refuses a connectionPool that is not a Lifeguard Pool", async () => {
    const plain = new pg.Pool({ connectionString: db.url });
    cleanups.push(() => plain.end());
    expect(() => knex({ client: LifeguardClient, connectionPool: plain })).toThrow(
      /takes a Lifeguard Pool as "connectionPool"/,
    );
  });
});
