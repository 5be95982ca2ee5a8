import { ManualClock } from "@lifeguard/core";
import { runConformanceSuite } from "@lifeguard/test-fixtures";
import knex from "knex";
import { LifeguardClient } from "../src/index.js";
import { knexSubject } from "./subject.js";

runConformanceSuite("knex on Lifeguard", ({ url, max, acquireTimeoutMillis }) => {
  const clock = acquireTimeoutMillis === undefined ? undefined : new ManualClock();
  const db = knex({
    client: LifeguardClient,
    connection: url,
    pool: { max, ...(clock === undefined ? {} : { clock }) },
    ...(acquireTimeoutMillis === undefined
      ? {}
      : { acquireConnectionTimeout: acquireTimeoutMillis }),
  });
  return knexSubject(db, {
    ...(clock === undefined ? {} : { advanceTime: (millis: number) => clock.advance(millis) }),
    expectations: {
      resetsSessions: true,
      namedStatementsSurviveDeallocate: true,
      unlistenedErrorsOnBackendDeath: false,
      // still a KnexTimeoutError (Knex's runner adds the SQL to it), with Lifeguard's code and text
      acquireTimeoutError: {
        code: "LIFEGUARD_ACQUIRE_TIMEOUT",
        message: /^Knex: Timeout acquiring a connection\. Timed out after 200 ms/,
      },
      closedError: { code: "LIFEGUARD_POOL_CLOSED", message: /closed/i },
    },
  });
});

// The same suite on Knex's own PostgreSQL client and its tarn.js pool, asserting where it differs.
runConformanceSuite("knex on tarn (its default)", ({ url, max, acquireTimeoutMillis }) => {
  const db = knex({
    client: "pg",
    connection: url,
    // Knex's default min is 2, which a pool of max 1 would refuse
    pool: { min: 0, max },
    // quiet: Knex logs every failed acquire (the acquire-timeout test makes one) and dead connection
    log: { warn: () => undefined },
    ...(acquireTimeoutMillis === undefined
      ? {}
      : { acquireConnectionTimeout: acquireTimeoutMillis }),
  });
  return knexSubject(db, {
    expectations: {
      resetsSessions: false,
      namedStatementsSurviveDeallocate: false,
      // Knex listens for errors on its connections and drops them when they are next validated
      unlistenedErrorsOnBackendDeath: false,
      acquireTimeoutError: {
        message: /^Knex: Timeout acquiring a connection\. The pool is probably full/,
      },
      closedError: { message: /Unable to acquire a connection/ },
    },
  });
});
