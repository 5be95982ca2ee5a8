/**
 * Prisma on Lifeguard through a real PgBouncer (test-fixtures/src/pgbouncer.ts): the conformance
 * suite in session mode, and its transaction-mode counterpart with the settings docs/pgbouncer.md
 * recommends for PgBouncer < 1.21. As in conformance.test.ts, the subject passes the pool it makes
 * and ends it in close().
 */
import { ManualClock } from "@lifeguard/core";
import { Pool } from "@lifeguard/pg";
import {
  type ConformanceExpectations,
  type PgBouncer,
  runConformanceSuite,
  runTransactionModeSuite,
  skipWithoutPgBouncer,
  usePgBouncer,
} from "@lifeguard/test-fixtures";
import { loadPrismaClient } from "@lifeguard/test-fixtures/prisma";
import { describe } from "vitest";
import { PrismaLifeguard } from "../src/index.js";
import { prismaSubject, StatementNames } from "./subject.js";

const skip = skipWithoutPgBouncer(import.meta.url);

const expectations: Omit<ConformanceExpectations, "resetsSessions"> = {
  namedStatementsSurviveDeallocate: true,
  unlistenedErrorsOnBackendDeath: false,
  acquireTimeoutError: {
    code: "LIFEGUARD_ACQUIRE_TIMEOUT",
    message: /Timed out after 200 ms waiting for a connection/,
  },
  closedError: { code: "LIFEGUARD_POOL_CLOSED", message: /closed/i },
};

function factory(bouncer: PgBouncer, resetsSessions: boolean) {
  return async ({
    url,
    max,
    acquireTimeoutMillis,
  }: {
    url: string;
    max: number;
    acquireTimeoutMillis?: number;
  }) => {
    const { PrismaClient } = await loadPrismaClient();
    const clock = acquireTimeoutMillis === undefined ? undefined : new ManualClock();
    const transactionMode = bouncer.poolMode === "transaction";
    const pool = new Pool({
      connectionString: bouncer.urlFor(url),
      max,
      pgbouncer: transactionMode ? "transaction" : "session",
      ...(transactionMode ? { namedStatements: false } : {}),
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
      expectations: { resetsSessions, ...expectations },
    });
  };
}

describe.skipIf(skip)("prisma on Lifeguard through a real PgBouncer", () => {
  const session = usePgBouncer({ poolMode: "session" });
  const transaction = usePgBouncer({ poolMode: "transaction", defaultPoolSize: 4 });
  runConformanceSuite("prisma via PgBouncer (session mode)", factory(session, true));
  runTransactionModeSuite(
    "prisma via PgBouncer (transaction mode, namedStatements: false)",
    transaction,
    factory(transaction, false),
    { warnsOnSessionState: true },
  );
});
