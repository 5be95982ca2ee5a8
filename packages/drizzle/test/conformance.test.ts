import { ManualClock } from "@lifeguard/core";
import { recordUnlistenedErrors, runConformanceSuite } from "@lifeguard/test-fixtures";
import { drizzle as drizzleOnPgPool } from "drizzle-orm/node-postgres";
import { drizzle } from "../src/index.js";
import { drizzleSubject } from "./subject.js";

runConformanceSuite("drizzle on Lifeguard", ({ url, max, acquireTimeoutMillis }) => {
  const clock = acquireTimeoutMillis === undefined ? undefined : new ManualClock();
  const db = drizzle({
    connection: url,
    pool: {
      max,
      ...(acquireTimeoutMillis === undefined ? {} : { acquireTimeoutMillis }),
      ...(clock === undefined ? {} : { clock }),
    },
  });
  return drizzleSubject(db, {
    close: () => db.$client.end(),
    ...(clock === undefined ? {} : { advanceTime: (millis: number) => clock.advance(millis) }),
    expectations: {
      resetsSessions: true,
      namedStatementsSurviveDeallocate: true,
      unlistenedErrorsOnBackendDeath: false,
      acquireTimeoutError: {
        code: "LIFEGUARD_ACQUIRE_TIMEOUT",
        message: /Timed out after 200 ms waiting for a connection/,
      },
      closedError: { code: "LIFEGUARD_POOL_CLOSED", message: /closed/i },
    },
  });
});

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
