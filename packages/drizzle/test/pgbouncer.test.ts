/**
 * Drizzle on Lifeguard through a real PgBouncer (test-fixtures/src/pgbouncer.ts): the conformance
 * suite in session mode, and its transaction-mode counterpart with the settings docs/pgbouncer.md
 * recommends for PgBouncer < 1.21.
 */
import { ManualClock } from "@lifeguard/core";
import {
  type ConformanceExpectations,
  type PgBouncer,
  runConformanceSuite,
  runTransactionModeSuite,
  skipWithoutPgBouncer,
  usePgBouncer,
} from "@lifeguard/test-fixtures";
import { describe } from "vitest";
import { drizzle } from "../src/index.js";
import { drizzleSubject } from "./subject.js";

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
  return ({
    url,
    max,
    acquireTimeoutMillis,
  }: {
    url: string;
    max: number;
    acquireTimeoutMillis?: number;
  }) => {
    const clock = acquireTimeoutMillis === undefined ? undefined : new ManualClock();
    const transactionMode = bouncer.poolMode === "transaction";
    const db = drizzle({
      connection: bouncer.urlFor(url),
      pool: {
        max,
        pgbouncer: transactionMode ? "transaction" : "session",
        ...(transactionMode ? { namedStatements: false } : {}),
        ...(acquireTimeoutMillis === undefined ? {} : { acquireTimeoutMillis }),
        ...(clock === undefined ? {} : { clock }),
      },
    });
    return drizzleSubject(db, {
      close: () => db.$client.end(),
      ...(clock === undefined ? {} : { advanceTime: (millis: number) => clock.advance(millis) }),
      expectations: { resetsSessions, ...expectations },
    });
  };
}

describe.skipIf(skip)("drizzle on Lifeguard through a real PgBouncer", () => {
  const session = usePgBouncer({ poolMode: "session" });
  const transaction = usePgBouncer({ poolMode: "transaction", defaultPoolSize: 4 });
  runConformanceSuite("drizzle via PgBouncer (session mode)", factory(session, true));
  runTransactionModeSuite(
    "drizzle via PgBouncer (transaction mode, namedStatements: false)",
    transaction,
    factory(transaction, false),
    { warnsOnSessionState: true },
  );
});
