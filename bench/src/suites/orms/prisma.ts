import { PrismaLifeguard } from "@lifeguard/prisma";
import type { PrismaTestClient } from "@lifeguard/test-fixtures/prisma";
import { generatePrismaClient, loadPrismaClient } from "@lifeguard/test-fixtures/prisma";
import { PrismaPg } from "@prisma/adapter-pg";
import { packageVersion } from "../../framework/environment.js";
import { CLOCK_CHECK_EVERY } from "../../framework/throughput.js";
import type { Contender, RunContext, Sample, SuiteSetup } from "../../framework/types.js";
import type { OrmState } from "./database.js";
import { POOL_SIZE, randomId, setupDatabase } from "./database.js";
import type { OrmParams } from "./workload.js";
import { measureOrm } from "./workload.js";

// The client is generated from test-fixtures/prisma/schema.prisma (its BenchItem model maps the
// suite's table); see test-fixtures/prisma/index.ts for how and why.

/** The ORM suites' database, plus the generated client (once, here, not in every child). */
export async function setupPrismaDatabase(): Promise<SuiteSetup<OrmState>> {
  await generatePrismaClient();
  return setupDatabase();
}

// Interactive transactions may wait for a connection behind 63 other loops: Prisma's default
// maxWait (2 s) is far above that wait, but set both the same for both contenders anyway.
const transactionOptions = { maxWait: 10_000, timeout: 10_000 };

// One loop per contender (not one shared function), so each call site sees one adapter class.

async function lifeguardWorker(
  prisma: PrismaTestClient,
  params: OrmParams,
  stopAt: number,
): Promise<number> {
  let operations = 0;
  do {
    for (let i = 0; i < CLOCK_CHECK_EVERY; i++) {
      const id = randomId();
      if (params.workload === "select") {
        await prisma.benchItem.findUnique({ where: { id } });
      } else {
        await prisma.$transaction(async (tx) => {
          await tx.benchItem.findUnique({ where: { id } });
          await tx.benchItem.update({ where: { id }, data: { n: { increment: 1 } } });
        });
      }
    }
    operations += CLOCK_CHECK_EVERY;
  } while (performance.now() < stopAt);
  return operations;
}

async function prismaPgWorker(
  prisma: PrismaTestClient,
  params: OrmParams,
  stopAt: number,
): Promise<number> {
  let operations = 0;
  do {
    for (let i = 0; i < CLOCK_CHECK_EVERY; i++) {
      const id = randomId();
      if (params.workload === "select") {
        await prisma.benchItem.findUnique({ where: { id } });
      } else {
        await prisma.$transaction(async (tx) => {
          await tx.benchItem.findUnique({ where: { id } });
          await tx.benchItem.update({ where: { id }, data: { n: { increment: 1 } } });
        });
      }
    }
    operations += CLOCK_CHECK_EVERY;
  } while (performance.now() < stopAt);
  return operations;
}

/** Opens the pool's connections (and warms Prisma's query compiler) before the clock starts. */
async function prefill(prisma: PrismaTestClient): Promise<void> {
  // transactions that wait for each other hold POOL_SIZE connections at once
  let inside = 0;
  let open!: () => void;
  const all = new Promise<void>((resolve) => {
    open = resolve;
  });
  await Promise.all(
    Array.from({ length: POOL_SIZE }, () =>
      prisma.$transaction(async (tx) => {
        await tx.benchItem.findUnique({ where: { id: 1 } });
        if (++inside === POOL_SIZE) open();
        await all;
      }),
    ),
  );
}

/**
 * One sample: a PrismaClient over the adapter `adapter()` builds, its connections opened, then the
 * contender's own `worker` in every loop; disconnected afterwards.
 */
async function measurePrisma(
  adapter: () => unknown,
  params: OrmParams,
  context: RunContext<OrmState>,
  worker: (prisma: PrismaTestClient, params: OrmParams, stopAt: number) => Promise<number>,
): Promise<Sample> {
  const { PrismaClient } = await loadPrismaClient();
  const prisma = new PrismaClient({ adapter: adapter(), transactionOptions });
  return measureOrm(params, context.durationMillis, {
    prefill: () => prefill(prisma),
    worker: (stopAt) => worker(prisma, params, stopAt),
    close: () => prisma.$disconnect(),
  });
}

const prismaVersion = () =>
  `prisma ${packageVersion("@prisma/client")}, @prisma/adapter-pg ${packageVersion("@prisma/adapter-pg")}`;

export const prismaLifeguard: Contender<OrmParams, OrmState> = {
  id: "prisma-lifeguard",
  label: "Prisma on PrismaLifeguard",
  version: `${prismaVersion()}, @lifeguard/prisma (working tree)`,
  note:
    "`new PrismaLifeguard({ connectionString: url, max: 10 })`: Lifeguard's defaults (pre-ping with its 500 ms " +
    "bypass window, `reset: 'auto'`, 10 s acquire deadline).",
  run: (params, context) =>
    measurePrisma(
      () => new PrismaLifeguard({ connectionString: context.state.url, max: POOL_SIZE }),
      params,
      context,
      lifeguardWorker,
    ),
};

export const prismaPg: Contender<OrmParams, OrmState> = {
  id: "prisma-pg",
  label: "Prisma on PrismaPg",
  version: `${prismaVersion()}, pg ${packageVersion("pg")}`,
  note: "`new PrismaPg({ connectionString: url, max: 10 })`, Prisma 7's default set-up: pg.Pool's defaults otherwise.",
  run: (params, context) =>
    measurePrisma(
      () => new PrismaPg({ connectionString: context.state.url, max: POOL_SIZE }),
      params,
      context,
      prismaPgWorker,
    ),
};
