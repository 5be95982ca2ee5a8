import { drizzle } from "@lifeguard/drizzle";
import { eq, sql } from "drizzle-orm";
import type { NodePgDatabase } from "drizzle-orm/node-postgres";
import { drizzle as drizzleOnPgPool } from "drizzle-orm/node-postgres";
import { integer, pgTable, text } from "drizzle-orm/pg-core";
import { packageVersion } from "../../framework/environment.js";
import { CLOCK_CHECK_EVERY } from "../../framework/throughput.js";
import type { Contender, RunContext, Sample } from "../../framework/types.js";
import type { OrmState } from "./database.js";
import { POOL_SIZE, randomId, TABLE } from "./database.js";
import type { OrmParams } from "./workload.js";
import { measureOrm } from "./workload.js";

const items = pgTable(TABLE, {
  id: integer("id").primaryKey(),
  label: text("label").notNull(),
  n: integer("n").notNull(),
});

// One loop per contender (not one shared function), so each call site sees one pool class.

async function lifeguardWorker(
  db: ReturnType<typeof drizzle>,
  params: OrmParams,
  stopAt: number,
): Promise<number> {
  let operations = 0;
  do {
    for (let i = 0; i < CLOCK_CHECK_EVERY; i++) {
      const id = randomId();
      if (params.workload === "select") {
        await db.select().from(items).where(eq(items.id, id));
      } else {
        await db.transaction(async (tx) => {
          await tx.select().from(items).where(eq(items.id, id));
          await tx
            .update(items)
            .set({ n: sql`${items.n} + 1` })
            .where(eq(items.id, id));
        });
      }
    }
    operations += CLOCK_CHECK_EVERY;
  } while (performance.now() < stopAt);
  return operations;
}

async function pgPoolWorker(
  db: NodePgDatabase,
  params: OrmParams,
  stopAt: number,
): Promise<number> {
  let operations = 0;
  do {
    for (let i = 0; i < CLOCK_CHECK_EVERY; i++) {
      const id = randomId();
      if (params.workload === "select") {
        await db.select().from(items).where(eq(items.id, id));
      } else {
        await db.transaction(async (tx) => {
          await tx.select().from(items).where(eq(items.id, id));
          await tx
            .update(items)
            .set({ n: sql`${items.n} + 1` })
            .where(eq(items.id, id));
        });
      }
    }
    operations += CLOCK_CHECK_EVERY;
  } while (performance.now() < stopAt);
  return operations;
}

/** Opens the pool's connections before the clock starts. */
async function prefill(db: { execute(query: ReturnType<typeof sql>): Promise<unknown> }) {
  await Promise.all(Array.from({ length: POOL_SIZE }, () => db.execute(sql`select 1`)));
}

export const drizzleLifeguard: Contender<OrmParams, OrmState> = {
  id: "drizzle-lifeguard",
  label: "Drizzle on Lifeguard",
  version: `drizzle-orm ${packageVersion("drizzle-orm")}, @lifeguard/drizzle (working tree)`,
  note:
    "`drizzle({ connection: url, pool: { max: 10 } })` from `@lifeguard/drizzle`: Lifeguard's defaults (pre-ping with " +
    "its 500 ms bypass window, `reset: 'auto'`, 10 s acquire deadline).",
  async run(params, context: RunContext<OrmState>): Promise<Sample> {
    const db = drizzle({ connection: context.state.url, pool: { max: POOL_SIZE } });
    return measureOrm(params, context.durationMillis, {
      prefill: () => prefill(db),
      worker: (stopAt) => lifeguardWorker(db, params, stopAt),
      close: () => db.$client.end(),
    });
  },
};

export const drizzlePgPool: Contender<OrmParams, OrmState> = {
  id: "drizzle-pg",
  label: "Drizzle on pg.Pool",
  version: `drizzle-orm ${packageVersion("drizzle-orm")}, pg ${packageVersion("pg")}`,
  note: "`drizzle({ connection: { connectionString: url, max: 10 } })` from `drizzle-orm/node-postgres`: pg.Pool's defaults otherwise.",
  async run(params, context: RunContext<OrmState>): Promise<Sample> {
    const db = drizzleOnPgPool({
      connection: { connectionString: context.state.url, max: POOL_SIZE },
    });
    return measureOrm(params, context.durationMillis, {
      prefill: () => prefill(db),
      worker: (stopAt) => pgPoolWorker(db, params, stopAt),
      close: () => db.$client.end(),
    });
  },
};
