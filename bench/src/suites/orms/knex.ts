import { LifeguardClient } from "@lifeguard/knex";
import knex, { type Knex } from "knex";
import { packageVersion } from "../../framework/environment.js";
import { CLOCK_CHECK_EVERY } from "../../framework/throughput.js";
import type { Contender, RunContext, Sample } from "../../framework/types.js";
import type { OrmState } from "./database.js";
import { POOL_SIZE, randomId, TABLE } from "./database.js";
import type { OrmParams } from "./workload.js";
import { measureOrm } from "./workload.js";

// One loop per contender (not one shared function), so each call site sees one client class.

async function lifeguardWorker(db: Knex, params: OrmParams, stopAt: number): Promise<number> {
  let operations = 0;
  do {
    for (let i = 0; i < CLOCK_CHECK_EVERY; i++) {
      const id = randomId();
      if (params.workload === "select") {
        await db(TABLE).where({ id }).first();
      } else {
        await db.transaction(async (trx) => {
          await trx(TABLE).where({ id }).first();
          await trx(TABLE).where({ id }).increment("n", 1);
        });
      }
    }
    operations += CLOCK_CHECK_EVERY;
  } while (performance.now() < stopAt);
  return operations;
}

async function tarnWorker(db: Knex, params: OrmParams, stopAt: number): Promise<number> {
  let operations = 0;
  do {
    for (let i = 0; i < CLOCK_CHECK_EVERY; i++) {
      const id = randomId();
      if (params.workload === "select") {
        await db(TABLE).where({ id }).first();
      } else {
        await db.transaction(async (trx) => {
          await trx(TABLE).where({ id }).first();
          await trx(TABLE).where({ id }).increment("n", 1);
        });
      }
    }
    operations += CLOCK_CHECK_EVERY;
  } while (performance.now() < stopAt);
  return operations;
}

/** Opens the pool's connections before the clock starts. */
async function prefill(db: Knex): Promise<void> {
  await Promise.all(Array.from({ length: POOL_SIZE }, () => db.raw("select 1")));
}

export const knexLifeguard: Contender<OrmParams, OrmState> = {
  id: "knex-lifeguard",
  label: "Knex on Lifeguard",
  version: `knex ${packageVersion("knex")}, @lifeguard/knex (working tree)`,
  note:
    "`knex({ client: LifeguardClient, connection: url, pool: { max: 10 } })`: Lifeguard's defaults (pre-ping with its " +
    "500 ms bypass window, `reset: 'auto'`, 10 s acquire deadline).",
  async run(params, context: RunContext<OrmState>): Promise<Sample> {
    const db = knex({
      client: LifeguardClient,
      connection: context.state.url,
      pool: { max: POOL_SIZE },
    });
    return measureOrm(params, context.durationMillis, {
      prefill: () => prefill(db),
      worker: (stopAt) => lifeguardWorker(db, params, stopAt),
      close: () => db.destroy(),
    });
  },
};

export const knexTarn: Contender<OrmParams, OrmState> = {
  id: "knex-tarn",
  label: "Knex on tarn",
  version: `knex ${packageVersion("knex")}, tarn ${packageVersion("tarn")}`,
  note: "`knex({ client: 'pg', connection: url, pool: { max: 10 } })`: Knex's defaults otherwise (`min: 2`, tarn's settings).",
  async run(params, context: RunContext<OrmState>): Promise<Sample> {
    const db = knex({ client: "pg", connection: context.state.url, pool: { max: POOL_SIZE } });
    return measureOrm(params, context.durationMillis, {
      prefill: () => prefill(db),
      worker: (stopAt) => tarnWorker(db, params, stopAt),
      close: () => db.destroy(),
    });
  },
};
