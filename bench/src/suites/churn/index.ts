import pg from "pg";
import { packageVersion } from "../../framework/environment.js";
import type { LatencyHistogram } from "../../framework/latency.js";
import type { Contender, Suite } from "../../framework/types.js";
import type { DbState } from "../db/shared.js";
import {
  METRICS_NOTE,
  measureQueryLoops,
  POOL_SIZE,
  setupDb,
  THROUGHPUT_METRICS_NOTE,
  throughputMetrics,
} from "../db/shared.js";
import type { PgContender } from "../pg/contenders.js";
import { lifeguard as pgSuiteLifeguard, pgPool as pgSuitePgPool } from "../pg/contenders.js";

interface ChurnParams {
  readonly concurrency: number;
}

type ChurnContender = Contender<ChurnParams, DbState>;

const TEXT = "select 1";

// One loop per contender (see the core suite): each call site sees one class only. The pools are
// the pg suite's contenders on its `select 1` case (their own loops), with this suite's notes.

async function newClientWorker(
  url: string,
  stopAt: number,
  latency: LatencyHistogram,
): Promise<number> {
  let queries = 0;
  let last = performance.now();
  let now = last;
  do {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(TEXT);
    await client.end();
    now = performance.now();
    latency.record(now - last);
    last = now;
    queries++;
  } while (now < stopAt);
  return queries;
}

const newClient: ChurnContender = {
  id: "new-client",
  label: "new pg.Client per query",
  version: `pg ${packageVersion("pg")}`,
  note:
    "no pool: every query is `new pg.Client(url)`, `connect()`, `query('select 1')`, `end()` " +
    "(TCP on loopback, trust authentication: no TLS, no password exchange; a real deployment pays more).",
  async run({ concurrency }, context) {
    return measureQueryLoops(concurrency, context.durationMillis, (stopAt, latency) =>
      newClientWorker(context.state.url, stopAt, latency),
    );
  },
};

/** A pg-suite contender on `select 1` (connections opened before the clock starts), with `note`. */
function onSelect1(contender: PgContender, note: string): ChurnContender {
  return {
    ...contender,
    note,
    run: ({ concurrency }, context) => contender.run({ query: "select1", concurrency }, context),
  };
}

const lifeguard = onSelect1(
  pgSuiteLifeguard,
  `\`new Pool({ connectionString, max: 10 })\` from \`@lifeguard/pg\` with its defaults and ${METRICS_NOTE}; connections opened before the clock starts.`,
);

const pgPool = onSelect1(
  pgSuitePgPool,
  "`new pg.Pool({ connectionString, max: 10 })` with pg's defaults; connections opened before the clock starts.",
);

/** The first baseline: why pools exist. No target; the ratio is the point. */
export const churnSuite: Suite<ChurnParams, DbState> = {
  name: "churn",
  title: "Connection churn: a new connection per query vs a pool",
  description: `
Why pools exist. \`select 1\` with a new \`pg.Client\` opened and closed around every query, against
the same query through a pool of ${POOL_SIZE} whose connections are already open. Concurrency _N_
means _N_ async loops back to back for the round's duration; at concurrency 16 the new-connection
contender has 16 connections starting up at any time (the server forks a backend for each). Latency
and client CPU include connecting and closing. ${THROUGHPUT_METRICS_NOTE} The server is an
embedded PostgreSQL on loopback with trust authentication, the cheapest connection there is: over a
network, with TLS and SCRAM, each new connection costs several more round trips.`,
  cases: [
    { id: "c1", label: "concurrency 1", params: { concurrency: 1 } },
    { id: "c16", label: "concurrency 16", params: { concurrency: 16 } },
  ],
  contenders: [lifeguard, pgPool, newClient],
  metrics: throughputMetrics,
  subject: "lifeguard",
  chart: { title: "SELECT 1, queries per second: a pool vs a new connection per query" },
  setup: setupDb,
};
