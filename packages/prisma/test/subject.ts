import type {
  ConformanceExpectations,
  ConformanceItem,
  ConformanceQueryable,
  ConformanceRow,
  ConformanceSubject,
} from "@lifeguard/test-fixtures";
import { conformanceTable } from "@lifeguard/test-fixtures";
import type {
  PrismaTestClient,
  PrismaTestQueries,
  PrismaTestTransaction,
} from "@lifeguard/test-fixtures/prisma";

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
