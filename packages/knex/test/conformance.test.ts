import { lifeguardExpectations, runConformanceSuite } from "@lifeguard/test-fixtures";
import knex from "knex";
import { knexSubject, lifeguardAcquireTimeout, lifeguardKnexSubject } from "./subject.js";

runConformanceSuite("knex on Lifeguard", (options) =>
  lifeguardKnexSubject(options, lifeguardExpectations(lifeguardAcquireTimeout)),
);

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
