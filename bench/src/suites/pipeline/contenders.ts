import { Pool as LifeguardPool } from "@lifeguard/pg";
import pg from "pg";
import { packageVersion } from "../../framework/environment.js";
import type { LatencyHistogram } from "../../framework/latency.js";
import {
  METRICS_NOTE,
  measureQueryLoops,
  POOL_SIZE,
  prefillPool,
  subscribeMetrics,
} from "../db/shared.js";
import type { PgContender } from "../pg/contenders.js";
import { QUERIES } from "../pg/contenders.js";

/** `pipelineQueries` as the suite runs it: the defaults (depth 8, head-of-line guard 10 ms). */
export const PIPELINE_OPTIONS = {} as const;

// As in the pg suite, each contender has its own copy of the loop so each call site sees one
// client or pool class only.

// -------------------------------------------------------------------------------------------------
// Lifeguard with pipelineQueries

async function pipelinedWorker(
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

function pipelinedContender(
  id: string,
  label: string,
  extra: { reset?: "always" },
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
        pipelineQueries: PIPELINE_OPTIONS,
        ...extra,
      });
      try {
        await prefillPool(pool);
        const text = QUERIES[query];
        return await measureQueryLoops(concurrency, context.durationMillis, (stopAt, latency) =>
          pipelinedWorker(pool, text, stopAt, latency),
        );
      } finally {
        await pool.end();
      }
    },
  };
}

export const lifeguardPipelined = pipelinedContender(
  "lifeguard-pipelined",
  "Lifeguard, pipelineQueries",
  {},
  "`new Pool({ connectionString, max: 10, pipelineQueries: {} })` from `@lifeguard/pg`: pipelining " +
    "with its defaults (depth 8, head-of-line guard 10 ms), every safety feature on as in the pg " +
    "suite (pre-ping with its 500 ms bypass window, `reset: 'auto'`, the statement classifier on " +
    `every query, release verdicts), plus ${METRICS_NOTE}. Queries with \`pool.query(text)\`.`,
);

export const lifeguardPipelinedAlways = pipelinedContender(
  "lifeguard-pipelined-always",
  "Lifeguard, pipelineQueries, reset 'always'",
  { reset: "always" },
  "the same with `reset: 'always'`: `DISCARD ALL` each time a connection goes back to the pool, " +
    "which a pipelined connection does when its last query has finished (pg's `pipeline` client " +
    "option is not set).",
);

// -------------------------------------------------------------------------------------------------
// ten raw pg.Clients in pg's pipeline mode: no pool at all

async function rawPipelinedWorker(
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

export const rawPipelined: PgContender = {
  id: "raw-pipelined",
  label: "10 raw pg.Clients, pipeline mode",
  version: `pg ${packageVersion("pg")}`,
  note:
    "the ceiling for pipelining over 10 connections: 10 `pg.Client`s with pg's `pipeline: true` " +
    "option (pg ≥ 8.23), connected before the clock starts; loop _i_ always queries client _i_ mod " +
    "10, so every loop sharing a client has its query on the wire at once (no depth bound, no " +
    "head-of-line guard, no checks, no reset).",
  async run({ query, concurrency }, context) {
    const clients = Array.from(
      { length: POOL_SIZE },
      () =>
        new pg.Client({ connectionString: context.state.url, pipeline: true } as pg.ClientConfig),
    );
    try {
      await Promise.all(clients.map((client) => client.connect()));
      const text = QUERIES[query];
      let next = 0;
      return await measureQueryLoops(concurrency, context.durationMillis, (stopAt, latency) =>
        rawPipelinedWorker(clients[next++ % POOL_SIZE] as pg.Client, text, stopAt, latency),
      );
    } finally {
      await Promise.all(clients.map((client) => client.end()));
    }
  },
};
