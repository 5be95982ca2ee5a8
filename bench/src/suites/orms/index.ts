import type { Contender, Suite, SuiteSetup } from "../../framework/types.js";
import type { OrmState } from "./database.js";
import { setupDatabase } from "./database.js";
import { drizzleLifeguard, drizzlePgPool } from "./drizzle.js";
import { knexLifeguard, knexTarn } from "./knex.js";
import { prismaLifeguard, prismaPg, setupPrismaDatabase } from "./prisma.js";
import type { OrmParams } from "./workload.js";
import { ormCases, ormDescription, ormMetrics } from "./workload.js";

/**
 * An ORM's suite: the workload through Lifeguard (the subject) and on the ORM's default pool, with
 * The target on it: Lifeguard ≥ 1.0× the default.
 */
function ormSuite(
  name: string,
  orm: string,
  title: string,
  calls: string,
  [lifeguard, ormDefault]: readonly [
    Contender<OrmParams, OrmState>,
    Contender<OrmParams, OrmState>,
  ],
  setup: () => Promise<SuiteSetup<OrmState>>,
): Suite<OrmParams, OrmState> {
  return {
    name,
    title,
    description: ormDescription(orm, calls),
    cases: ormCases,
    contenders: [lifeguard, ormDefault],
    metrics: ormMetrics,
    subject: lifeguard.id,
    targets: [{ versus: ormDefault.id, min: 1.0, label: "≥ 1.0×" }],
    chart: { title: `${orm}, operations per second (pool of 10, concurrency 64)` },
    timing: { full: { rounds: 5, roundMillis: 1000 } },
    setup,
  };
}

/** Target: Drizzle through Lifeguard ≥ 1.0× Drizzle on its default pool (pg.Pool). */
export const drizzleSuite = ormSuite(
  "drizzle",
  "Drizzle",
  "Drizzle: its default pool (pg.Pool) vs Lifeguard",
  "`db.select().from(items).where(eq(items.id, id))`",
  [drizzleLifeguard, drizzlePgPool],
  () => setupDatabase(),
);

/** Target: Knex through Lifeguard ≥ 1.0× Knex on its default pool (tarn). */
export const knexSuite = ormSuite(
  "knex",
  "Knex",
  "Knex: its default pool (tarn) vs Lifeguard",
  "`knex('items').where({ id }).first()`",
  [knexLifeguard, knexTarn],
  () => setupDatabase(),
);

/** Target: Prisma through Lifeguard ≥ 1.0× Prisma on its default set-up (PrismaPg on pg.Pool). */
export const prismaSuite = ormSuite(
  "prisma",
  "Prisma",
  "Prisma: PrismaPg (pg.Pool) vs PrismaLifeguard",
  "`prisma.benchItem.findUnique({ where: { id } })`, a client generated from test-fixtures/prisma/schema.prisma",
  [prismaLifeguard, prismaPg],
  () => setupPrismaDatabase(),
);
