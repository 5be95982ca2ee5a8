import type { BenchCase, Suite } from "../../framework/types.js";
import type { DbState } from "../db/shared.js";
import { POOL_SIZE, setupDb, THROUGHPUT_METRICS_NOTE, throughputMetrics } from "../db/shared.js";
import type { PgParams } from "../pg/contenders.js";
import { pgPool, postgresJs } from "../pg/contenders.js";
import { lifeguardPipelined, lifeguardPipelinedAlways, rawPipelined } from "./contenders.js";

const contenders = [lifeguardPipelined, lifeguardPipelinedAlways, pgPool, rawPipelined, postgresJs];

const extraRatios = [
  { subject: "lifeguard-pipelined-always", versus: "pg-pool" },
  { subject: "lifeguard-pipelined", versus: "pg-pool", metric: "cpuPerQuery" },
];

/** Concurrency 1 and 8 (fewer callers than connections) to 64 and 512 (many more). */
function cases(query: PgParams["query"]): BenchCase<PgParams>[] {
  return [1, 8, 64, 512].map((concurrency) => ({
    id: `c${concurrency}`,
    label: `concurrency ${concurrency}`,
    params: { query, concurrency },
  }));
}

function description(statement: string, extra: string): string {
  return `
\`${statement}\` through \`pool.query()\` with \`pipelineQueries\` on (docs/pipelining.md), against pg.Pool,
ten raw pg.Clients in pg's own pipeline mode, and postgres.js (which pipelines by default). Every pool
has ${POOL_SIZE} connections, opened before the clock starts (a fresh pool per sample); concurrency _N_
means _N_ async loops, each running the query back to back for the round's duration. At concurrency 1
and 8 there are fewer callers than connections, so nothing is pipelined and the figures show what the
option costs when it cannot help; at 64 and 512 every connection carries several queries at once.
${THROUGHPUT_METRICS_NOTE} ${extra} The database server runs on the same machine and shares its cores:
compare the ratios (computed round by round), not the absolute numbers across runs.`;
}

/** SELECT 1, pipelined. */
export const pgPipelineSuite: Suite<PgParams, DbState> = {
  name: "pg-pipeline",
  title: "Pipelined pool.query(): SELECT 1",
  description: description(
    "select 1",
    "A round trip is all there is to this query: pipelining removes most of the wait between queries on a connection.",
  ),
  cases: cases("select1"),
  contenders,
  metrics: throughputMetrics,
  subject: "lifeguard-pipelined",
  targets: [
    { versus: "pg-pool", cases: ["c64"], min: 1.8, label: "≥ 1.8×" },
    { versus: "raw-pipelined", cases: ["c64"], min: 0.9, label: "≥ 0.9×" },
    {
      subject: "lifeguard-pipelined-always",
      versus: "pg-pool",
      cases: ["c64"],
      min: 0.65,
      label: "≥ 0.65×",
    },
    {
      subject: "lifeguard-pipelined-always",
      versus: "pg-pool",
      cases: ["c64"],
      min: 0.85,
      label: "stretch ≥ 0.85×",
    },
  ],
  extraRatios,
  chart: {
    title: "Pipelined SELECT 1, queries per second by concurrency (pool of 10)",
    includeReferences: true,
  },
  setup: setupDb,
};

/** A 1 ms query, pipelined. */
export const pgPipelineSleepSuite: Suite<PgParams, DbState> = {
  name: "pg-pipeline-1ms",
  title: "Pipelined pool.query(): a 1 ms query",
  description: description(
    "select pg_sleep(0.001)",
    "The server holds each query about 1 ms, so the connections, not the round trips, set the pace: pipelining should cost nothing here, and can gain little.",
  ),
  cases: cases("sleep1ms"),
  contenders,
  metrics: throughputMetrics,
  subject: "lifeguard-pipelined",
  targets: [{ versus: "pg-pool", cases: ["c64"], min: 1.0, label: "≥ 1.0×" }],
  extraRatios,
  chart: {
    title: "Pipelined select pg_sleep(0.001), queries per second by concurrency (pool of 10)",
    includeReferences: true,
  },
  setup: setupDb,
};
