import diagnosticsChannel from "node:diagnostics_channel";
import type { ConnectionAcquireEvent } from "@lifeguard/core";
import { channelNames } from "@lifeguard/core";
import { drizzle } from "@lifeguard/drizzle";
import { LifeguardClient, lifeguardPool } from "@lifeguard/knex";
import { Pool } from "@lifeguard/pg";
import { sql } from "drizzle-orm";
import knex from "knex";
import pg from "pg";

/** One pool under test, behind the same small workload API. */
export interface DemoSubject {
  readonly name: string;
  /** Runs on Lifeguard (held to "loses nothing"); false for the plain pg.Pool baseline. */
  readonly lifeguard: boolean;
  /** Its connections' application_name, so chaos can find its backends. */
  readonly applicationName: string;
  /** A point read. */
  read(id: number): Promise<void>;
  /** A transfer in a transaction. */
  transfer(from: number, to: number): Promise<void>;
  /** Sets session state and walks away: what a careless request does. */
  leak(tenant: string): Promise<void>;
  /** The tenant a request finds already set on its session ("" when clean). */
  probe(): Promise<string>;
  /** A slow query: the one chaos kills while it runs. */
  slow(): Promise<void>;
  /** Milliseconds each acquire waited, collected as they happen. */
  readonly waits: number[];
  pool(): { total: number; idle: number };
  /** Errors the pool itself emitted (pg.Pool: 'error' events that kill an app without a listener). */
  readonly poolErrors: { count: number };
  close(): Promise<void>;
}

const POOL_MAX = 5;

function urlFor(base: string, applicationName: string): string {
  const url = new URL(base);
  url.searchParams.set("application_name", applicationName);
  return url.toString();
}

/** Acquire waits of one Lifeguard pool, from its diagnostics channel. */
function recordWaits(poolName: string, waits: number[]): () => void {
  const listener = (message: unknown) => {
    const event = message as ConnectionAcquireEvent;
    if (event.pool.name === poolName) waits.push(event.waitMillis);
  };
  diagnosticsChannel.subscribe(channelNames.connectionAcquire, listener);
  return () => diagnosticsChannel.unsubscribe(channelNames.connectionAcquire, listener);
}

const probeSql = "select coalesce(current_setting('app.tenant', true), '') as tenant";
const leakSql = "select set_config('app.tenant', $1, false)";
const transferSql = [
  "update demo_accounts set balance = balance - 1 where id = $1",
  "update demo_accounts set balance = balance + 1 where id = $1",
];

/** pg.Pool as applications use it (with an 'error' listener, or this demo would crash). */
function plainPgPool(url: string): DemoSubject {
  const applicationName = "lifeguard-demo-plain";
  const pool = new pg.Pool({ connectionString: urlFor(url, applicationName), max: POOL_MAX });
  const poolErrors = { count: 0 };
  pool.on("error", () => poolErrors.count++);
  return pgStyle("plain pg.Pool", false, applicationName, pool, poolErrors, [], () => undefined);
}

function lifeguardPg(url: string): DemoSubject {
  const applicationName = "lifeguard-demo-pg";
  const pool = new Pool({
    connectionString: urlFor(url, applicationName),
    max: POOL_MAX,
    name: "demo-pg",
  });
  const waits: number[] = [];
  const stop = recordWaits("demo-pg", waits);
  const poolErrors = { count: 0 };
  pool.on("error", () => poolErrors.count++);
  return pgStyle("Lifeguard (pg drop-in)", true, applicationName, pool, poolErrors, waits, stop);
}

function pgStyle(
  name: string,
  lifeguard: boolean,
  applicationName: string,
  pool: pg.Pool,
  poolErrors: { count: number },
  waits: number[],
  stop: () => void,
): DemoSubject {
  // pg.Pool has no wait metric: time connect() for the baseline
  const listened = new WeakSet<pg.PoolClient>();
  const connect = async () => {
    const started = performance.now();
    const client = await pool.connect();
    if (!lifeguard) {
      waits.push(performance.now() - started);
      // pg.Pool leaves a checked-out client without an 'error' listener: a backend killed between
      // two of its queries would crash this process (Lifeguard's clients always have one)
      if (!listened.has(client)) {
        listened.add(client);
        client.on("error", () => poolErrors.count++);
      }
    }
    return client;
  };
  const run = async <T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await connect();
    try {
      const result = await fn(client);
      client.release();
      return result;
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
  };
  return {
    name,
    lifeguard,
    applicationName,
    waits,
    poolErrors,
    read: (id) =>
      run(
        async (c) => void (await c.query("select balance from demo_accounts where id = $1", [id])),
      ),
    transfer: (from, to) =>
      run(async (c) => {
        await c.query("begin");
        try {
          await c.query(transferSql[0] as string, [from]);
          await c.query(transferSql[1] as string, [to]);
          await c.query("commit");
        } catch (error) {
          await c.query("rollback").catch(() => undefined);
          throw error;
        }
      }),
    leak: (tenant) => run(async (c) => void (await c.query(leakSql, [tenant]))),
    probe: () =>
      run(async (c) => (await c.query<{ tenant: string }>(probeSql)).rows[0]?.tenant ?? ""),
    slow: () => run(async (c) => void (await c.query("select pg_sleep(0.3)"))),
    pool: () => ({ total: pool.totalCount, idle: pool.idleCount }),
    close: async () => {
      stop();
      await pool.end();
    },
  };
}

function lifeguardDrizzle(url: string): DemoSubject {
  const applicationName = "lifeguard-demo-drizzle";
  const db = drizzle({
    connection: urlFor(url, applicationName),
    pool: { max: POOL_MAX, name: "demo-drizzle" },
  });
  const waits: number[] = [];
  const stop = recordWaits("demo-drizzle", waits);
  const poolErrors = { count: 0 };
  db.$client.on("error", () => poolErrors.count++);
  return {
    name: "Drizzle on Lifeguard",
    lifeguard: true,
    applicationName,
    waits,
    poolErrors,
    read: async (id) =>
      void (await db.execute(sql`select balance from demo_accounts where id = ${id}`)),
    transfer: (from, to) =>
      db.transaction(async (tx) => {
        await tx.execute(sql`update demo_accounts set balance = balance - 1 where id = ${from}`);
        await tx.execute(sql`update demo_accounts set balance = balance + 1 where id = ${to}`);
      }),
    leak: async (tenant) =>
      void (await db.execute(sql`select set_config('app.tenant', ${tenant}, false)`)),
    probe: async () => {
      const result = await db.execute<{ tenant: string }>(sql.raw(probeSql));
      return result.rows[0]?.tenant ?? "";
    },
    slow: async () => void (await db.execute(sql`select pg_sleep(0.3)`)),
    pool: () => ({ total: db.$client.totalCount, idle: db.$client.idleCount }),
    close: async () => {
      stop();
      await db.$client.end();
    },
  };
}

function lifeguardKnex(url: string): DemoSubject {
  const applicationName = "lifeguard-demo-knex";
  const db = knex({
    client: LifeguardClient,
    connection: urlFor(url, applicationName),
    pool: { min: 0, max: POOL_MAX, name: "demo-knex" },
  });
  const waits: number[] = [];
  const stop = recordWaits("demo-knex", waits);
  const poolErrors = { count: 0 };
  let errorsHooked = false;
  return {
    name: "Knex on Lifeguard",
    lifeguard: true,
    applicationName,
    waits,
    poolErrors,
    read: async (id) => void (await db("demo_accounts").select("balance").where({ id })),
    transfer: (from, to) =>
      db.transaction(async (trx) => {
        await trx("demo_accounts").where({ id: from }).decrement("balance", 1);
        await trx("demo_accounts").where({ id: to }).increment("balance", 1);
      }),
    leak: async (tenant) => {
      await db.raw("select set_config('app.tenant', ?, false)", [tenant]);
      if (!errorsHooked) {
        errorsHooked = true;
        lifeguardPool(db).on("error", () => poolErrors.count++);
      }
    },
    probe: async () => {
      const result = (await db.raw(probeSql)) as { rows: { tenant: string }[] };
      return result.rows[0]?.tenant ?? "";
    },
    slow: async () => void (await db.raw("select pg_sleep(0.3)")),
    pool: () => {
      try {
        const pool = lifeguardPool(db);
        return { total: pool.totalCount, idle: pool.idleCount };
      } catch {
        return { total: 0, idle: 0 };
      }
    },
    close: async () => {
      stop();
      await db.destroy();
    },
  };
}

/** Every subject the demo runs, baseline first. */
export function demoSubjects(url: string): DemoSubject[] {
  return [plainPgPool(url), lifeguardPg(url), lifeguardDrizzle(url), lifeguardKnex(url)];
}
