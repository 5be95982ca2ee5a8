import type { Throughput } from "../../framework/throughput.js";
import { measureThroughput } from "../../framework/throughput.js";
import type { BenchCase, Metric, Sample } from "../../framework/types.js";

export interface OrmParams {
  /** `select`: a point select by primary key; `transaction`: select + update in a transaction. */
  readonly workload: "select" | "transaction";
  readonly concurrency: number;
}

export const ormCases: readonly BenchCase<OrmParams>[] = [
  {
    id: "select-c64",
    label: "point select, concurrency 64",
    params: { workload: "select", concurrency: 64 },
  },
  {
    id: "tx-c64",
    label: "transaction (select + update), concurrency 64",
    params: { workload: "transaction", concurrency: 64 },
  },
];

export const ormMetrics: readonly Metric[] = [
  { key: "opsPerSecond", label: "operations/s", better: "higher", format: "si" },
  {
    key: "usPerOp",
    label: "µs/operation",
    better: "lower",
    format: "fixed",
    decimals: 1,
    unit: " µs",
  },
];

function sample(result: Throughput): Sample {
  return { opsPerSecond: result.perSecond, usPerOp: result.nsPerOperation / 1000 };
}

/** How a contender runs one sample on the ORM instance it built. */
export interface OrmRun {
  /** Opens the pool's connections before the clock starts. */
  prefill(): Promise<void>;
  /** One closed loop: the contender's own worker (one per contender, see drizzle.ts). */
  worker(stopAt: number): Promise<number>;
  /** Ends the instance and its pool, whatever happened. */
  close(): Promise<unknown>;
}

/** One sample: prefill, then `params.concurrency` loops for `durationMillis`; always closes. */
export async function measureOrm(
  params: OrmParams,
  durationMillis: number,
  run: OrmRun,
): Promise<Sample> {
  try {
    await run.prefill();
    return sample(await measureThroughput(params.concurrency, durationMillis, run.worker));
  } finally {
    await run.close();
  }
}

export function ormDescription(orm: string, calls: string): string {
  return `
The same ${orm} workload on its default pool and through Lifeguard. Every contender queries one table
of 1000 rows with a pool of 10 connections and 64 async loops; each loop repeats one operation back to
back for the round's duration, on a row picked at random: a **point select** (${calls}), or a
**transaction** that selects the row and increments a counter on it. **operations/s** counts completed
operations over all loops; **µs/operation** is its inverse (wall time per operation, not latency).
Each sample builds a fresh ${orm} instance and pool and opens its 10 connections before the clock
starts. The database is PostgreSQL on loopback (an embedded server started for the run unless
\`DATABASE_URL\` is set), so these numbers include the database's own work.`;
}
