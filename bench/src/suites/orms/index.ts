import type { Suite } from "../../framework/types.js";
import type { OrmState } from "./database.js";
import { setupDatabase } from "./database.js";
import { drizzleLifeguard, drizzlePgPool } from "./drizzle.js";
import { knexLifeguard, knexTarn } from "./knex.js";
import { prismaLifeguard, prismaPg, setupPrismaDatabase } from "./prisma.js";
import type { OrmParams } from "./workload.js";
import { ormCases, ormDescription, ormMetrics } from "./workload.js";

/** SPEC §9: Drizzle through Lifeguard ≥ 1.0× Drizzle on its default pool (pg.Pool). */
export const drizzleSuite: Suite<OrmParams, OrmState> = {
  name: "drizzle",
  title: "Drizzle: its default pool (pg.Pool) vs Lifeguard",
  description: ormDescription("Drizzle", "`db.select().from(items).where(eq(items.id, id))`"),
  cases: ormCases,
  contenders: [drizzleLifeguard, drizzlePgPool],
  metrics: ormMetrics,
  subject: "drizzle-lifeguard",
  targets: [{ versus: "drizzle-pg", min: 1.0, label: "≥ 1.0×" }],
  chart: { title: "Drizzle, operations per second (pool of 10, concurrency 64)" },
  timing: { full: { rounds: 5, roundMillis: 1000 } },
  setup: () => setupDatabase(),
};

/** SPEC §9: Knex through Lifeguard ≥ 1.0× Knex on its default pool (tarn). */
export const knexSuite: Suite<OrmParams, OrmState> = {
  name: "knex",
  title: "Knex: its default pool (tarn) vs Lifeguard",
  description: ormDescription("Knex", "`knex('items').where({ id }).first()`"),
  cases: ormCases,
  contenders: [knexLifeguard, knexTarn],
  metrics: ormMetrics,
  subject: "knex-lifeguard",
  targets: [{ versus: "knex-tarn", min: 1.0, label: "≥ 1.0×" }],
  chart: { title: "Knex, operations per second (pool of 10, concurrency 64)" },
  timing: { full: { rounds: 5, roundMillis: 1000 } },
  setup: () => setupDatabase(),
};

/** SPEC §9: Prisma through Lifeguard ≥ 1.0× Prisma on its default set-up (PrismaPg on pg.Pool). */
export const prismaSuite: Suite<OrmParams, OrmState> = {
  name: "prisma",
  title: "Prisma: PrismaPg (pg.Pool) vs PrismaLifeguard",
  description: ormDescription(
    "Prisma",
    "`prisma.benchItem.findUnique({ where: { id } })`, a client generated from test-fixtures/prisma/schema.prisma",
  ),
  cases: ormCases,
  contenders: [prismaLifeguard, prismaPg],
  metrics: ormMetrics,
  subject: "prisma-lifeguard",
  targets: [{ versus: "prisma-pg", min: 1.0, label: "≥ 1.0×" }],
  chart: { title: "Prisma, operations per second (pool of 10, concurrency 64)" },
  timing: { full: { rounds: 5, roundMillis: 1000 } },
  setup: () => setupPrismaDatabase(),
};
