/**
 * Knex on Lifeguard through a real PgBouncer (test-fixtures/src/pgbouncer.ts): the conformance
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
import knex from "knex";
import { describe } from "vitest";
import { LifeguardClient } from "../src/index.js";
import { knexSubject } from "./subject.js";

const skip = skipWithoutPgBouncer(import.meta.url);

const expectations: Omit<ConformanceExpectations, "resetsSessions"> = {
  namedStatementsSurviveDeallocate: true,
  unlistenedErrorsOnBackendDeath: false,
  acquireTimeoutError: {
    code: "LIFEGUARD_ACQUIRE_TIMEOUT",
    message: /^Knex: Timeout acquiring a connection\. Timed out after 200 ms/,
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
    const db = knex({
      client: LifeguardClient,
      connection: bouncer.urlFor(url),
      pool: {
        max,
        pgbouncer: transactionMode ? "transaction" : "session",
        ...(transactionMode ? { namedStatements: false } : {}),
        ...(clock === undefined ? {} : { clock }),
      },
      ...(acquireTimeoutMillis === undefined
        ? {}
        : { acquireConnectionTimeout: acquireTimeoutMillis }),
    });
    return knexSubject(db, {
      ...(clock === undefined ? {} : { advanceTime: (millis: number) => clock.advance(millis) }),
      expectations: { resetsSessions, ...expectations },
    });
  };
}

describe.skipIf(skip)("knex on Lifeguard through a real PgBouncer", () => {
  const session = usePgBouncer({ poolMode: "session" });
  const transaction = usePgBouncer({ poolMode: "transaction", defaultPoolSize: 4 });
  runConformanceSuite("knex via PgBouncer (session mode)", factory(session, true));
  runTransactionModeSuite(
    "knex via PgBouncer (transaction mode, namedStatements: false)",
    transaction,
    factory(transaction, false),
    { warnsOnSessionState: true },
  );
});
