/**
 * pg.Pool's documented API (https://node-postgres.com/apis/pool), walked case by case against plain
 * pg.Pool and Lifeguard's Pool side by side: the same observable behaviour, or the documented
 * difference (docs/pg.md, "Compatibility with pg.Pool").
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Pool } from "../src/index.js";
import { pidOf } from "./helpers.js";

const db = useTestDatabase();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

type AnyPool = pg.Pool;
const impls = {
  "pg.Pool": (config: pg.PoolConfig = {}) => new pg.Pool({ connectionString: db.url, ...config }),
  Lifeguard: (config: pg.PoolConfig = {}) =>
    new Pool({ connectionString: db.url, ...(config as object) }) as unknown as pg.Pool,
} as const;
type Impl = keyof typeof impls;
const both = Object.keys(impls) as Impl[];

function make(impl: Impl, config: pg.PoolConfig = {}): AnyPool {
  const pool = impls[impl](config);
  pool.on("error", () => undefined);
  cleanups.push(() => pool.end());
  return pool;
}

describe.each(both)("%s: methods", (impl) => {
  it("connect() resolves a pg.Client with release(); query() works with text, values, config", async () => {
    const pool = make(impl, { max: 1 });
    const client = await pool.connect();
    expect(client).toBeInstanceOf(pg.Client);
    expect(typeof client.release).toBe("function");
    expect((await client.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
    expect((await client.query("select $1::int as n", [2])).rows).toEqual([{ n: 2 }]);
    expect((await client.query({ text: "select $1::int as n", values: [3] })).rows).toEqual([
      { n: 3 },
    ]);
    expect((await client.query({ text: "select 4 as n", rowMode: "array" })).rows).toEqual([[4]]);
    client.release();
    expect((await pool.query("select $1::text as t", ["x"])).rows).toEqual([{ t: "x" }]);
  });

  it("connect(callback) passes (err, client, done); query(text, values, callback) and query(text, callback)", async () => {
    const pool = make(impl, { max: 1 });
    const got = await new Promise<{ err: unknown; client: unknown; done: unknown }>((resolve) =>
      pool.connect((err, client, done) => resolve({ err, client, done })),
    );
    expect(got.err ?? undefined).toBeUndefined();
    expect(got.client).toBeInstanceOf(pg.Client);
    (got.done as () => void)();
    const rows = await new Promise((resolve, reject) =>
      pool.query("select $1::int as n", [5], (err, res) => (err ? reject(err) : resolve(res.rows))),
    );
    expect(rows).toEqual([{ n: 5 }]);
    const error = await new Promise((resolve) => pool.query("selec 1", (err) => resolve(err)));
    expect(error).toMatchObject({ code: "42601" });
  });

  it("query(function) is refused with pg.Pool's message", async () => {
    const pool = make(impl);
    const error = await new Promise((resolve) =>
      (pool.query as unknown as (cb: (e: Error) => void) => void)((e) => resolve(e)),
    );
    expect(String(error)).toMatch(/Passing a function as the first parameter to pool.query/);
  });

  it("end() resolves; end(callback) calls back; ending/ended follow; later connect() is refused", async () => {
    const pool = impls[impl]({ max: 1 });
    await pool.query("select 1");
    expect(pool.ending).toBe(false);
    await new Promise<void>((resolve) => pool.end(resolve));
    expect(pool.ending).toBe(true);
    expect(pool.ended).toBe(true);
    await expect(pool.connect()).rejects.toThrow();
  });

  it("a query issued just before end() runs (issue 15.2)", async () => {
    const pool = impls[impl]({ max: 2 });
    const running = pool.query("select 7 as n");
    const ending = pool.end();
    await expect(running).resolves.toMatchObject({ rows: [{ n: 7 }] });
    await ending;
  });

  it("counts: totalCount, idleCount, waitingCount, expiredCount", async () => {
    const pool = make(impl, { max: 1 });
    expect([pool.totalCount, pool.idleCount, pool.waitingCount]).toEqual([0, 0, 0]);
    const a = await pool.connect();
    const waiting = pool.connect();
    await vi.waitFor(() => expect(pool.waitingCount).toBe(1));
    expect([pool.totalCount, pool.idleCount]).toEqual([1, 0]);
    a.release();
    const b = await waiting;
    b.release();
    expect([pool.totalCount, pool.idleCount, pool.waitingCount, pool.expiredCount]).toEqual([
      1, 1, 0, 0,
    ]);
  });
});

describe.each(both)("%s: options", (impl) => {
  it("max bounds the clients; min, idleTimeoutMillis, maxUses, application_name are accepted", async () => {
    const pool = make(impl, {
      max: 2,
      idleTimeoutMillis: 30_000,
      maxUses: 100,
      application_name: "lg_compat",
    });
    const clients = [await pool.connect(), await pool.connect()];
    expect(pool.totalCount).toBe(2);
    expect(
      (await clients[0]?.query("select current_setting('application_name') as a"))?.rows,
    ).toEqual([{ a: "lg_compat" }]);
    for (const c of clients) c.release();
    expect(pool.options.max).toBe(2);
  });

  it("maxUses retires a client after that many uses", async () => {
    const pool = make(impl, { max: 1, maxUses: 2 });
    const first = await pool.connect();
    const pid = await pidOf(first);
    first.release();
    const second = await pool.connect();
    expect(await pidOf(second)).toBe(pid);
    second.release();
    const third = await pool.connect();
    expect(await pidOf(third)).not.toBe(pid);
    third.release();
  });

  it("connectionTimeoutMillis: the error says 'timeout exceeded when trying to connect' (issue 15.7)", async () => {
    const pool = make(impl, { max: 1, connectionTimeoutMillis: 1000 });
    const held = await pool.connect();
    const error = await pool.connect().catch((e: Error) => e);
    expect((error as Error).message).toMatch(/timeout exceeded when trying to connect/);
    held.release();
  });

  it("Client: a custom Client class, including one whose connect() takes only a callback (issue 15.1)", async () => {
    class CallbackClient extends pg.Client {
      // @ts-expect-error: a callback-only connect, as older Client implementations have
      override connect(callback: (error?: Error) => void): void {
        super.connect().then(() => callback(), callback);
      }
    }
    const pool = make(impl, { max: 1, Client: CallbackClient as unknown as typeof pg.Client });
    const client = await pool.connect();
    expect(client).toBeInstanceOf(CallbackClient);
    expect(typeof (client as unknown as { processID: unknown }).processID).toBe("number");
    expect((await client.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
    client.release();
  });

  it("onConnect, the 'connect' event and verify run in pg.Pool's order, before the client is lent", async () => {
    const steps: string[] = [];
    const pool = make(impl, {
      max: 1,
      onConnect: async (client: pg.ClientBase) => {
        await client.query("set application_name = 'lg_compat_hooks'");
        steps.push("onConnect");
      },
      verify: (_client: pg.Client, done: (error?: Error) => void) => {
        steps.push("verify");
        done();
      },
    } as unknown as pg.PoolConfig);
    pool.on("connect", () => steps.push("connect"));
    const client = await pool.connect();
    steps.push("lent");
    expect(steps).toEqual(["onConnect", "connect", "verify", "lent"]);
    expect((await client.query("select current_setting('application_name') as a")).rows).toEqual([
      { a: "lg_compat_hooks" },
    ]);
    client.release();
  });

  it("a verify error rejects that connect()", async () => {
    const failure = new Error("verify said no");
    const pool = make(impl, {
      max: 1,
      verify: (_client: pg.Client, done: (error?: Error) => void) => done(failure),
    } as pg.PoolConfig);
    const error = await pool.connect().catch((e: unknown) => e);
    // pg.Pool rejects with the error itself; Lifeguard too once core handles hook errors
    // (hook-errors.test.ts); until then it is the cause of a DatabaseUnavailableError
    expect(error === failure || (error as { cause?: unknown }).cause === failure).toBe(true);
  });

  it("connect() after end() says pg.Pool's 'Cannot use a pool after calling end on the pool'", async () => {
    const pool = impls[impl]();
    await pool.end();
    await expect(pool.connect()).rejects.toThrow(/Cannot use a pool after calling end on the pool/);
  });

  it("log is called", async () => {
    const lines: unknown[] = [];
    const pool = make(impl, { log: (...m: unknown[]) => lines.push(m) } as pg.PoolConfig);
    await pool.query("select 1");
    expect(lines.length).toBeGreaterThan(0);
  });
});

describe.each(both)("%s: events", (impl) => {
  it("'acquire' and 'release' pass the very client connect() returned", async () => {
    const pool = make(impl, { max: 1 });
    const acquired: unknown[] = [];
    const released: unknown[] = [];
    pool.on("acquire", (c) => acquired.push(c));
    pool.on("release", (_e, c) => released.push(c));
    const client = await pool.connect();
    client.release();
    expect(acquired).toEqual([client]);
    expect(acquired[0]).toBe(client);
    expect(released[0]).toBe(client);
  });

  it("pool.query(): 'acquire' and 'release' get one object; after the query it is stale for Lifeguard only (issue 15.3)", async () => {
    const pool = make(impl, { max: 1 });
    const acquired: pg.PoolClient[] = [];
    const released: pg.PoolClient[] = [];
    pool.on("acquire", (c) => acquired.push(c));
    pool.on("release", (_e, c) => released.push(c));
    await pool.query("select 1");
    expect(acquired).toHaveLength(1);
    expect(released[0]).toBe(acquired[0]);
    expect(acquired[0]).toBeInstanceOf(pg.Client);
    // pg.Pool hands listeners the pooled client itself, usable forever; Lifeguard hands them the
    // lease's handle, which refuses once the lease has ended (it may be someone else's by now)
    const later = await Promise.resolve()
      .then(() => acquired[0]?.query("select 1"))
      .then(
        () => "served",
        (e: Error) => e.name,
      );
    expect(later).toBe(impl === "pg.Pool" ? "served" : "LeaseReleasedError");
  });

  it("'connect' fires once per new client, before it is lent, with a client of the pool", async () => {
    const pool = make(impl, { max: 1 });
    const connected: pg.Client[] = [];
    pool.on("connect", (c) => connected.push(c));
    const client = await pool.connect();
    expect(connected).toHaveLength(1);
    expect((connected[0] as unknown as { processID: number }).processID).toBe(
      (client as unknown as { processID: number }).processID,
    );
    // identity: pg.Pool lends that same object; Lifeguard lends a per-lease handle over it
    expect(connected[0] === client).toBe(impl === "pg.Pool");
    client.release();
  });

  it("'remove' fires when a client is closed", async () => {
    const pool = make(impl, { max: 1 });
    const removed: unknown[] = [];
    pool.on("remove", (c) => removed.push(c));
    const client = await pool.connect();
    client.release(true);
    await vi.waitFor(() => expect(removed).toHaveLength(1));
    expect(removed[0]).toBeInstanceOf(pg.Client);
  });

  it("'error' fires for an idle client whose backend dies", async () => {
    const pool = make(impl, { max: 1 });
    const errors: unknown[] = [];
    pool.on("error", (e) => errors.push(e));
    const client = await pool.connect();
    const pid = await pidOf(client);
    client.release();
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query("select pg_terminate_backend($1)", [pid]);
    await admin.end();
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    expect(errors[0]).toMatchObject({ code: "57P01" });
  });

  it("'error' passes (error, client) and 'release' passes the error given to release(err)", async () => {
    const pool = make(impl, { max: 1 });
    const events: unknown[][] = [];
    pool.on("release", (error, client) => events.push([error, client]));
    const client = await pool.connect();
    const failure = new Error("the borrower's failure");
    client.release(failure);
    expect(events).toEqual([[failure, client]]);
    const idleErrors: unknown[][] = [];
    pool.on("error", (error, idle) => idleErrors.push([error, idle]));
    const next = await pool.connect();
    const pid = await pidOf(next);
    next.release();
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query("select pg_terminate_backend($1)", [pid]);
    await admin.end();
    await vi.waitFor(() => expect(idleErrors).toHaveLength(1));
    expect(idleErrors[0]?.[1]).toBeInstanceOf(pg.Client);
    expect(idleErrors[0]?.[1]).toMatchObject({ processID: pid });
  });
});

describe("errors thrown inside callbacks are uncaughtExceptions, as with pg.Pool (issue 15.6)", () => {
  const script = fileURLToPath(new URL("./fixtures/callback-throws.ts", import.meta.url));
  for (const form of ["connect", "query"] as const) {
    it(`${form}(callback)`, () => {
      for (const impl of ["pg", "lifeguard"]) {
        const child = spawnSync(
          process.execPath,
          ["--import", "tsx", "--conditions=@lifeguard/source", script, impl, form, db.url],
          { encoding: "utf8", timeout: 30_000 },
        );
        expect({ impl, stdout: child.stdout }).toEqual({
          impl,
          stdout: "uncaughtException thrown in the callback\n",
        });
      }
    });
  }
});

describe("connection errors: pg.Pool passes the driver's error, Lifeguard wraps it (documented)", () => {
  it("the original error stays reachable as `cause`, with its code", async () => {
    const url = "postgres://nobody:x@127.0.0.1:1/none";
    const pgPool = new pg.Pool({ connectionString: url });
    const pgError = (await pgPool.connect().catch((e: unknown) => e)) as { code?: string };
    await pgPool.end();
    expect(pgError.code).toBe("ECONNREFUSED");
    const pool = new Pool({ connectionString: url });
    const error = (await pool.connect().catch((e: unknown) => e)) as {
      code?: string;
      cause?: { code?: string };
    };
    await pool.end();
    expect(error.code).toBe("LIFEGUARD_DB_UNAVAILABLE");
    expect(error.cause?.code).toBe("ECONNREFUSED");
  });
});

describe("min: pg.Pool keeps it but never opens it; Lifeguard opens it at start (documented)", () => {
  it("side by side", async () => {
    const pgPool = make("pg.Pool", { min: 2, max: 4 });
    const pool = make("Lifeguard", { min: 2, max: 4 });
    await (pool as unknown as Pool).warmup();
    expect(pool.totalCount).toBe(2);
    expect(pgPool.totalCount).toBe(0);
  });
});
