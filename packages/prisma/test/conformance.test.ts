import {
  lifeguardExpectations,
  recordUnlistenedErrors,
  runConformanceSuite,
} from "@lifeguard/test-fixtures";
import { loadPrismaClient } from "@lifeguard/test-fixtures/prisma";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import {
  lifeguardAcquireTimeout,
  lifeguardPrismaSubject,
  prismaSubject,
  StatementNames,
} from "./subject.js";

// Both subjects pass the pool they make and end it in close(): Prisma's $disconnect() is not final
// (the next query connects again, and an adapter that made its own pool makes a new one), so "later
// requests fail" holds only for a pool the application has ended. PrismaLifeguard's own pools and
// reconnects are covered in lifecycle.test.ts.

runConformanceSuite("prisma on Lifeguard", (options) =>
  lifeguardPrismaSubject(options, lifeguardExpectations(lifeguardAcquireTimeout)),
);

// The same suite on Prisma 7's default set-up: PrismaPg on a plain pg.Pool, asserting where it differs.
runConformanceSuite("prisma on PrismaPg (pg.Pool)", async ({ url, max, acquireTimeoutMillis }) => {
  const { PrismaClient } = await loadPrismaClient();
  // pg.Pool waits for a connection forever unless connectionTimeoutMillis is set
  const pool = new pg.Pool({
    connectionString: url,
    max,
    ...(acquireTimeoutMillis === undefined
      ? {}
      : { connectionTimeoutMillis: acquireTimeoutMillis }),
  });
  const unlistenedErrors = recordUnlistenedErrors(pool);
  const names = new StatementNames();
  const prisma = new PrismaClient({
    adapter: new PrismaPg(pool, { statementNameGenerator: names.generate }),
  });
  return prismaSubject(prisma, {
    names,
    close: async () => {
      await prisma.$disconnect();
      await pool.end();
    },
    unlistenedErrors,
    expectations: {
      resetsSessions: false,
      namedStatementsSurviveDeallocate: false,
      // adapter-pg listens for 'error' on the pool and on clients in transactions itself
      unlistenedErrorsOnBackendDeath: false,
      acquireTimeoutError: { message: /timeout exceeded when trying to connect/ },
      closedError: { message: /Cannot use a pool after calling end on the pool/ },
    },
  });
});
