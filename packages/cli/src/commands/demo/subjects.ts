import { drizzle } from "@lifeguard/drizzle";
import { LifeguardClient, lifeguardPool } from "@lifeguard/knex";
import { Pool } from "@lifeguard/pg";
import { sql } from "drizzle-orm";
import knex from "knex";
import pg from "pg";

/** One pool under test, behind the same small workload API. */
export interface DemoSubject {
  readonly name: string;
  /** Runs on Lifeguard; false for the plain pg.Pool baseline. */
  readonly lifeguard: boolean;
  /** Its connections' application_name, so the backend kills can find them. */
  readonly applicationName: string;
  /** The Lifeguard pool's name (its diagnostics events carry it); undefined for pg.Pool. */
  readonly poolName: string | undefined;
  /** A point read. */
  read(id: number): Promise<void>;
  /** A transfer in a transaction. */
  transfer(from: number, to: number): Promise<void>;
  /** Sets session state and walks away: what a careless request does. */
  dirty(tenant: string): Promise<void>;
  /** The tenant a request finds already set on its session ("" when clean). */
  probe(): Promise<string>;
  /** A slow query: the one the backend kills hit while it runs. */
  slow(): Promise<void>;
  /** A request that takes a connection, uses it and forgets to give it back. */
  leakLease(): Promise<void>;
  /** 'error' events the pool emitted (pg.Pool: each kills an application without a listener). */
  readonly poolErrors: { count: number };
  /** Gives leaked connections back, then closes the pool. */
  close(): Promise<void>;
}

/** Where a subject connects, and the names that tell its phase's pools apart. */
export interface SubjectSite {
  readonly url: string;
  /** Short name of the phase: part of every application_name and Lifeguard pool name. */
  readonly phase: string;
}

export type SubjectFactory = (site: SubjectSite) => DemoSubject;

export const POOL_MAX = 5;

/**
 * What the demo sets on every Lifeguard pool beside `max`: an acquire deadline below the 5 s that
 * counts as hung (the default, 10 s, is above it), and leak detection, which is off by default.
 */
export const LIFEGUARD_SETTINGS = {
  acquireTimeoutMillis: 4000,
  leakDetectionThresholdMillis: 1000,
} as const;

export function urlFor(base: string, applicationName: string): string {
  const url = new URL(base);
  url.searchParams.set("application_name", applicationName);
  return url.toString();
}

const probeSql = "select coalesce(current_setting('app.tenant', true), '') as tenant";
const dirtySql = "select set_config('app.tenant', $1, false)";
const transferSql = [
  "update demo_accounts set balance = balance - 1 where id = $1",
  "update demo_accounts set balance = balance + 1 where id = $1",
];

/** pg.Pool as applications use it: its defaults, `max` 5, and an 'error' listener. */
function plainPgPool({ url, phase }: SubjectSite): DemoSubject {
  const applicationName = `lifeguard-demo-${phase}-plain`;
  const pool = new pg.Pool({ connectionString: urlFor(url, applicationName), max: POOL_MAX });
  const poolErrors = { count: 0 };
  pool.on("error", () => poolErrors.count++);
  // pg.Pool leaves a checked-out client without an 'error' listener: a backend killed between two
  // of its queries, or in the instant it is lent, would crash this process. Applications that
  // survive add one as each client connects, as here (Lifeguard's clients always have one).
  pool.on("connect", (client) => client.on("error", () => poolErrors.count++));
  return pgStyle("plain pg.Pool", undefined, applicationName, pool, poolErrors);
}

function lifeguardPg({ url, phase }: SubjectSite): DemoSubject {
  const applicationName = `lifeguard-demo-${phase}-pg`;
  const poolName = `demo-pg-${phase}`;
  const pool = new Pool({
    connectionString: urlFor(url, applicationName),
    max: POOL_MAX,
    name: poolName,
    ...LIFEGUARD_SETTINGS,
  });
  const poolErrors = { count: 0 };
  pool.on("error", () => poolErrors.count++);
  return pgStyle("Lifeguard (pg drop-in)", poolName, applicationName, pool, poolErrors);
}

function pgStyle(
  name: string,
  poolName: string | undefined,
  applicationName: string,
  pool: pg.Pool,
  poolErrors: { count: number },
): DemoSubject {
  const lifeguard = poolName !== undefined;
  const leaked: pg.PoolClient[] = [];
  const connect = () => pool.connect();
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
    poolName,
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
    dirty: (tenant) => run(async (c) => void (await c.query(dirtySql, [tenant]))),
    probe: () =>
      run(async (c) => (await c.query<{ tenant: string }>(probeSql)).rows[0]?.tenant ?? ""),
    slow: () => run(async (c) => void (await c.query("select pg_sleep(0.3)"))),
    leakLease: async () => {
      const client = await connect();
      leaked.push(client);
      await client.query("select 1");
    },
    close: async () => {
      for (const client of leaked.splice(0)) {
        try {
          client.release(true);
        } catch {
          // already released by a close that got there first
        }
      }
      await pool.end();
    },
  };
}

function lifeguardDrizzle({ url, phase }: SubjectSite): DemoSubject {
  const applicationName = `lifeguard-demo-${phase}-drizzle`;
  const poolName = `demo-drizzle-${phase}`;
  const db = drizzle({
    connection: urlFor(url, applicationName),
    pool: { max: POOL_MAX, name: poolName, ...LIFEGUARD_SETTINGS },
  });
  const poolErrors = { count: 0 };
  db.$client.on("error", () => poolErrors.count++);
  const leaked: pg.PoolClient[] = [];
  return {
    name: "Drizzle on Lifeguard",
    lifeguard: true,
    applicationName,
    poolName,
    poolErrors,
    read: async (id) =>
      void (await db.execute(sql`select balance from demo_accounts where id = ${id}`)),
    transfer: (from, to) =>
      db.transaction(async (tx) => {
        await tx.execute(sql`update demo_accounts set balance = balance - 1 where id = ${from}`);
        await tx.execute(sql`update demo_accounts set balance = balance + 1 where id = ${to}`);
      }),
    dirty: async (tenant) =>
      void (await db.execute(sql`select set_config('app.tenant', ${tenant}, false)`)),
    probe: async () => {
      const result = await db.execute<{ tenant: string }>(sql.raw(probeSql));
      return result.rows[0]?.tenant ?? "";
    },
    slow: async () => void (await db.execute(sql`select pg_sleep(0.3)`)),
    leakLease: async () => {
      // raw access through db.$client, as applications do for what Drizzle does not cover
      const client = await db.$client.connect();
      leaked.push(client);
      await client.query("select 1");
    },
    close: async () => {
      for (const client of leaked.splice(0)) client.release(true);
      await db.$client.end();
    },
  };
}

function lifeguardKnex({ url, phase }: SubjectSite): DemoSubject {
  const applicationName = `lifeguard-demo-${phase}-knex`;
  const poolName = `demo-knex-${phase}`;
  const db = knex({
    client: LifeguardClient,
    connection: urlFor(url, applicationName),
    pool: { min: 0, max: POOL_MAX, name: poolName, ...LIFEGUARD_SETTINGS },
  });
  const poolErrors = { count: 0 };
  lifeguardPool(db).on("error", () => poolErrors.count++);
  const leaked: unknown[] = [];
  return {
    name: "Knex on Lifeguard",
    lifeguard: true,
    applicationName,
    poolName,
    poolErrors,
    read: async (id) => void (await db("demo_accounts").select("balance").where({ id })),
    transfer: (from, to) =>
      db.transaction(async (trx) => {
        await trx("demo_accounts").where({ id: from }).decrement("balance", 1);
        await trx("demo_accounts").where({ id: to }).increment("balance", 1);
      }),
    dirty: async (tenant) =>
      void (await db.raw("select set_config('app.tenant', ?, false)", [tenant])),
    probe: async () => {
      const result = (await db.raw(probeSql)) as { rows: { tenant: string }[] };
      return result.rows[0]?.tenant ?? "";
    },
    slow: async () => void (await db.raw("select pg_sleep(0.3)")),
    leakLease: async () => {
      // what a hand-written acquireConnection() without its releaseConnection() does
      const connection = (await db.client.acquireConnection()) as pg.PoolClient;
      leaked.push(connection);
      await connection.query("select 1");
    },
    close: async () => {
      for (const connection of leaked.splice(0)) await db.client.releaseConnection(connection);
      await db.destroy();
    },
  };
}

/** Every subject the demo runs, baseline first. */
export const demoSubjects: readonly SubjectFactory[] = [
  plainPgPool,
  lifeguardPg,
  lifeguardDrizzle,
  lifeguardKnex,
];
