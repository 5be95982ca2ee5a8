import { ManualClock } from "@lifeguard/core";
import { Pool } from "@lifeguard/pg";
import type {
  ConformanceExpectations,
  ConformanceItem,
  ConformanceOptions,
  ConformanceQueryable,
  ConformanceRow,
  ConformanceSubject,
  PgBouncerPoolSettings,
} from "@lifeguard/test-fixtures";
import { conformanceTable } from "@lifeguard/test-fixtures";
import type {
  PrismaTestClient,
  PrismaTestQueries,
  PrismaTestTransaction,
} from "@lifeguard/test-fixtures/prisma";
import { loadPrismaClient } from "@lifeguard/test-fixtures/prisma";
import { PrismaLifeguard } from "../src/index.js";

/** The conformance suite's named lookup, as raw SQL (its name comes from `statementNameGenerator`). */
const lookupSql = `select id, label from ${conformanceTable} where id = $1`;

/**
 * Statement names for `statementNameGenerator`, by SQL text. adapter-pg passes the generator's
 * result to pg as the query's `name`; the empty string is PostgreSQL's unnamed statement, so
 * everything but the registered SQL runs unnamed, as without a generator.
 */
export class StatementNames {
  readonly #names = new Map<string, string>();
  readonly generate = (query: { sql: string }): string => this.#names.get(query.sql) ?? "";
  set(sql: string, name: string): void {
    this.#names.set(sql, name);
  }
}

export interface PrismaSubjectOptions {
  readonly names: StatementNames;
  readonly close: () => Promise<void>;
  readonly advanceTime?: (millis: number) => Promise<void>;
  readonly unlistenedErrors?: () => readonly unknown[];
  readonly expectations: ConformanceExpectations;
}

/** A generated Prisma Client as the conformance suite drives it. */
export function prismaSubject(
  prisma: PrismaTestClient,
  options: PrismaSubjectOptions,
): ConformanceSubject {
  return {
    ...queryable(prisma, (fn) => prisma.$transaction(fn)),
    prepared(name) {
      options.names.set(lookupSql, name);
      return async (id) => (await run(prisma, lookupSql, [id])) as unknown as ConformanceItem[];
    },
    close: options.close,
    ...(options.advanceTime === undefined ? {} : { advanceTime: options.advanceTime }),
    ...(options.unlistenedErrors === undefined
      ? {}
      : { unlistenedErrors: options.unlistenedErrors }),
    expectations: options.expectations,
  };
}

/** How PrismaLifeguard words an acquire timeout after the suites' 200 ms. */
export const lifeguardAcquireTimeout = /Timed out after 200 ms waiting for a connection/;

/**
 * Prisma on PrismaLifeguard as the conformance suites run it: a Lifeguard pool with the suite's URL
 * and `max`, its `acquireTimeoutMillis` (`connectionTimeoutMillis`) on a manual clock when set, plus
 * `poolSettings` behind PgBouncer. The subject passes the pool it makes and ends it in close().
 */
export async function lifeguardPrismaSubject(
  { url, max, acquireTimeoutMillis }: ConformanceOptions,
  expectations: ConformanceExpectations,
  poolSettings?: PgBouncerPoolSettings,
): Promise<ConformanceSubject> {
  const { PrismaClient } = await loadPrismaClient();
  const clock = acquireTimeoutMillis === undefined ? undefined : new ManualClock();
  const pool = new Pool({
    connectionString: url,
    max,
    ...poolSettings,
    ...(acquireTimeoutMillis === undefined
      ? {}
      : { connectionTimeoutMillis: acquireTimeoutMillis }),
    ...(clock === undefined ? {} : { clock }),
  });
  const names = new StatementNames();
  const prisma = new PrismaClient({
    adapter: new PrismaLifeguard(pool, { statementNameGenerator: names.generate }),
  });
  return prismaSubject(prisma, {
    names,
    close: async () => {
      await prisma.$disconnect();
      await pool.end();
    },
    ...(clock === undefined ? {} : { advanceTime: (millis: number) => clock.advance(millis) }),
    expectations,
  });
}

function queryable(
  client: PrismaTestQueries,
  transaction: <T>(fn: (tx: PrismaTestTransaction) => Promise<T>) => Promise<T>,
): ConformanceQueryable {
  return {
    query: (sql, params = []) => run(client, sql, params),
    transaction: (fn) => transaction((tx) => fn(queryable(tx, (inner) => tx.$transaction(inner)))),
  };
}

async function run(
  client: PrismaTestQueries,
  sql: string,
  params: readonly unknown[],
): Promise<ConformanceRow[]> {
  try {
    return await client.$queryRawUnsafe<ConformanceRow[]>(sql, ...params);
  } catch (error) {
    throw exposeDriverError(error);
  }
}

/**
 * Prisma does not keep the driver's error: its errors carry the SQLSTATE and message in
 * `meta.driverAdapterError.cause` (`originalCode`, `originalMessage`). The suite looks for them along
 * the `cause` chain, so they are put there (the error itself is unchanged otherwise).
 */
function exposeDriverError(error: unknown): unknown {
  const driver = (error as { meta?: { driverAdapterError?: { cause?: unknown } } } | null)?.meta
    ?.driverAdapterError?.cause as
    | { originalCode?: unknown; originalMessage?: unknown }
    | undefined;
  if (
    error instanceof Error &&
    error.cause === undefined &&
    typeof driver?.originalCode === "string"
  ) {
    Object.defineProperty(error, "cause", {
      value: { code: driver.originalCode, message: String(driver.originalMessage) },
      configurable: true,
      writable: true,
    });
  }
  return error;
}
