import { Pool as LifeguardPool } from "@lifeguard/pg";
import pg from "pg";
import postgres from "postgres";
import { packageVersion } from "../../framework/environment.js";
import type { LatencyHistogram } from "../../framework/latency.js";
import type { Contender } from "../../framework/types.js";
import type { DbState } from "../db/shared.js";
import {
  METRICS_NOTE,
  measureQueryLoops,
  POOL_SIZE,
  prefillPool,
  subscribeMetrics,
} from "../db/shared.js";

/** The two statements of the end-to-end suites. */
export const QUERIES = {
  select1: "select 1",
  sleep1ms: "select pg_sleep(0.001)",
} as const;

/** Statement and concurrency of one case (the churn suite reuses these contenders on `select1`). */
export interface PgParams {
  readonly query: keyof typeof QUERIES;
  readonly concurrency: number;
}

export type PgContender = Contender<PgParams, DbState>;

// Each contender has its own copy of the loop (not one shared function taking callbacks), so each
// call site sees one pool class only. Every loop reads the clock once per query: the time since the
// previous read is that query's latency (the loop is closed: the next query starts at once).

// -------------------------------------------------------------------------------------------------
// Lifeguard (@lifeguard/pg's Pool)

async function lifeguardWorker(
  pool: LifeguardPool,
  text: string,
  stopAt: number,
  latency: LatencyHistogram,
): Promise<number> {
  let queries = 0;
  let last = performance.now();
  let now = last;
  do {
    await pool.query(text);
    now = performance.now();
    latency.record(now - last);
    last = now;
    queries++;
  } while (now < stopAt);
  return queries;
}

function lifeguardContender(
  id: string,
  label: string,
  extra: { reset?: "always"; pipeline?: boolean },
  note: string,
): PgContender {
  return {
    id,
    label,
    version: `${packageVersion("@lifeguard/pg")} (working tree)`,
    note,
    async run({ query, concurrency }, context) {
      subscribeMetrics();
      const pool = new LifeguardPool({
        connectionString: context.state.url,
        max: POOL_SIZE,
        ...extra,
      });
      try {
        // both pools open their connections lazily: open them all before the clock starts
        await prefillPool(pool);
        const text = QUERIES[query];
        return await measureQueryLoops(concurrency, context.durationMillis, (stopAt, latency) =>
          lifeguardWorker(pool, text, stopAt, latency),
        );
      } finally {
        await pool.end();
      }
    },
  };
}

export const lifeguard = lifeguardContender(
  "lifeguard",
  "Lifeguard",
  {},
  "`new Pool({ connectionString, max: 10 })` from `@lifeguard/pg`, otherwise its defaults: pre-ping on " +
    "(500 ms bypass window: a connection used less than 500 ms ago is lent without the round trip, " +
    "one idle longer is pinged), `reset: 'auto'` (these leases run only reads, so no reset is sent), " +
    `maxLifetimeSeconds 1800; plus ${METRICS_NOTE}. Queries with \`pool.query(text)\`.`,
);

export const lifeguardAlways = lifeguardContender(
  "lifeguard-always",
  "Lifeguard, reset 'always'",
  { reset: "always" },
  "the same with `reset: 'always'`: `DISCARD ALL` on every release, before the connection is lent " +
    "again (whatever the working tree's connector does to overlap it with the next borrower's work; " +
    "pg's `pipeline` client option is not set, as an application on pg's defaults would not set it).",
);

export const lifeguardAlwaysPipelined = lifeguardContender(
  "lifeguard-always-pipelined",
  "Lifeguard, reset 'always', pipeline",
  { reset: "always", pipeline: true },
  "the same with `reset: 'always'` and pg's `pipeline: true` client option (pg ≥ 8.23): the rollback " +
    "and reset are written without waiting, and the next borrower's statements follow them on the " +
    "wire, the way the 'always' target asks for (pipeline mode refuses cursors and `rows`-paged " +
    "queries, so it is an application's choice, not a default).",
);

// -------------------------------------------------------------------------------------------------
// pg.Pool

async function pgPoolWorker(
  pool: pg.Pool,
  text: string,
  stopAt: number,
  latency: LatencyHistogram,
): Promise<number> {
  let queries = 0;
  let last = performance.now();
  let now = last;
  do {
    await pool.query(text);
    now = performance.now();
    latency.record(now - last);
    last = now;
    queries++;
  } while (now < stopAt);
  return queries;
}

export const pgPool: PgContender = {
  id: "pg-pool",
  label: "pg.Pool",
  version: `pg ${packageVersion("pg")}`,
  note: "`new pg.Pool({ connectionString, max: 10 })`, otherwise pg's defaults (no pre-ping, no reset); `pool.query(text)`.",
  async run({ query, concurrency }, context) {
    const pool = new pg.Pool({ connectionString: context.state.url, max: POOL_SIZE });
    try {
      await prefillPool(pool);
      const text = QUERIES[query];
      return await measureQueryLoops(concurrency, context.durationMillis, (stopAt, latency) =>
        pgPoolWorker(pool, text, stopAt, latency),
      );
    } finally {
      await pool.end();
    }
  },
};

// -------------------------------------------------------------------------------------------------
// raw pre-opened clients: no pool at all

async function rawWorker(
  client: pg.Client,
  text: string,
  stopAt: number,
  latency: LatencyHistogram,
): Promise<number> {
  let queries = 0;
  let last = performance.now();
  let now = last;
  do {
    await client.query(text);
    now = performance.now();
    latency.record(now - last);
    last = now;
    queries++;
  } while (now < stopAt);
  return queries;
}

export const rawClients: PgContender = {
  id: "raw",
  label: "10 raw pre-opened pg.Clients",
  version: `pg ${packageVersion("pg")}`,
  reference: true,
  note:
    "the ceiling: 10 `pg.Client`s connected before the clock starts, loop _i_ always queries client " +
    "_i_ mod 10 with `client.query(text)`; above concurrency 10 the loops sharing a client wait in " +
    "pg's own per-client queue (which pg 8.23 deprecates: it prints a one-time DeprecationWarning). " +
    "No pool, no checks, no reset.",
  async run({ query, concurrency }, context) {
    const clients = Array.from(
      { length: POOL_SIZE },
      () => new pg.Client({ connectionString: context.state.url }),
    );
    try {
      await Promise.all(clients.map((client) => client.connect()));
      const text = QUERIES[query];
      let next = 0;
      return await measureQueryLoops(concurrency, context.durationMillis, (stopAt, latency) =>
        rawWorker(clients[next++ % POOL_SIZE] as pg.Client, text, stopAt, latency),
      );
    } finally {
      await Promise.all(clients.map((client) => client.end()));
    }
  },
};

// -------------------------------------------------------------------------------------------------
// postgres.js

type Sql = postgres.Sql<Record<string, never>>;

// A tagged template is postgres.js's way to query; one worker per statement keeps them literal.
async function postgresJsSelect1Worker(
  sql: Sql,
  stopAt: number,
  latency: LatencyHistogram,
): Promise<number> {
  let queries = 0;
  let last = performance.now();
  let now = last;
  do {
    await sql`select 1`;
    now = performance.now();
    latency.record(now - last);
    last = now;
    queries++;
  } while (now < stopAt);
  return queries;
}

async function postgresJsSleepWorker(
  sql: Sql,
  stopAt: number,
  latency: LatencyHistogram,
): Promise<number> {
  let queries = 0;
  let last = performance.now();
  let now = last;
  do {
    await sql`select pg_sleep(0.001)`;
    now = performance.now();
    latency.record(now - last);
    last = now;
    queries++;
  } while (now < stopAt);
  return queries;
}

export const postgresJs: PgContender = {
  id: "postgres-js",
  label: "postgres.js",
  version: packageVersion("postgres"),
  note:
    "the alternative driver: `postgres(url, { max: 10 })`, otherwise its defaults: prepared statements " +
    "(extended protocol, `prepare: true`) and **pipelining** (a busy connection takes up to " +
    "`max_pipeline` = 100 queries in flight), so above concurrency 10 it is not bound by one round trip " +
    "per query per connection as the others are. Queries with tagged templates (`` sql`select 1` ``); " +
    "its 10 connections are opened before the clock starts.",
  async run({ query, concurrency }, context) {
    const sql: Sql = postgres(context.state.url, { max: POOL_SIZE, onnotice: () => {} });
    try {
      // 10 reserved connections at once force all 10 open (postgres.js connects lazily)
      const reserved = await Promise.all(Array.from({ length: POOL_SIZE }, () => sql.reserve()));
      for (const connection of reserved) connection.release();
      return await measureQueryLoops(
        concurrency,
        context.durationMillis,
        query === "select1"
          ? (stopAt, latency) => postgresJsSelect1Worker(sql, stopAt, latency)
          : (stopAt, latency) => postgresJsSleepWorker(sql, stopAt, latency),
      );
    } finally {
      await sql.end({ timeout: 5 });
    }
  },
};
