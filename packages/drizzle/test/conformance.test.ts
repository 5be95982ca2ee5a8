import {
  lifeguardExpectations,
  recordUnlistenedErrors,
  runConformanceSuite,
} from "@lifeguard/test-fixtures";
import { drizzle as drizzleOnPgPool } from "drizzle-orm/node-postgres";
import { drizzleSubject, lifeguardAcquireTimeout, lifeguardDrizzleSubject } from "./subject.js";

runConformanceSuite("drizzle on Lifeguard", (options) =>
  lifeguardDrizzleSubject(options, lifeguardExpectations(lifeguardAcquireTimeout)),
);

// The same suite on drizzle-orm/node-postgres's own pool (pg.Pool), asserting where it differs.
runConformanceSuite("drizzle on pg.Pool (its default)", ({ url, max, acquireTimeoutMillis }) => {
  // pg.Pool waits for a connection forever unless connectionTimeoutMillis is set
  const db = drizzleOnPgPool({
    connection: {
      connectionString: url,
      max,
      ...(acquireTimeoutMillis === undefined
        ? {}
        : { connectionTimeoutMillis: acquireTimeoutMillis }),
    },
  });
  return drizzleSubject(db, {
    close: () => db.$client.end(),
    unlistenedErrors: recordUnlistenedErrors(db.$client),
    expectations: {
      resetsSessions: false,
      namedStatementsSurviveDeallocate: false,
      unlistenedErrorsOnBackendDeath: true,
      acquireTimeoutError: { message: /timeout exceeded when trying to connect/ },
      closedError: { message: /Cannot use a pool after calling end on the pool/ },
    },
  });
});
