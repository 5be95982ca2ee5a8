import { ManualClock } from "@lifeguard/core";
import type {
  ConformanceExpectations,
  ConformanceItem,
  ConformanceOptions,
  ConformanceQueryable,
  ConformanceSubject,
  PgBouncerPoolSettings,
} from "@lifeguard/test-fixtures";
import { conformanceTable } from "@lifeguard/test-fixtures";
import knex, { type Knex } from "knex";
import { LifeguardClient } from "../src/index.js";

/** `$1`-style SQL as Knex raw SQL: each `$n` becomes `?` with its value in order. */
export function toKnexRaw(text: string, params: readonly unknown[] = []) {
  const bindings: unknown[] = [];
  const sql = text.replace(/\$(\d+)/g, (_, n: string) => {
    bindings.push(params[Number(n) - 1]);
    return "?";
  });
  return { sql, bindings: bindings as Knex.RawBinding[] };
}

function queryable(db: Knex | Knex.Transaction): ConformanceQueryable {
  return {
    async query(text, params) {
      const { sql, bindings } = toKnexRaw(text, params);
      const result = await db.raw<{ rows: Record<string, unknown>[] }>(sql, bindings);
      return result.rows;
    },
    transaction(fn) {
      return db.transaction((trx) => fn(queryable(trx)));
    },
  };
}

/** A conformance subject over a Knex instance (on LifeguardClient or on Knex's own pg client). */
export function knexSubject(
  db: Knex,
  parts: {
    expectations: ConformanceExpectations;
    advanceTime?: (millis: number) => Promise<void>;
  },
): ConformanceSubject {
  return {
    ...queryable(db),
    prepared(name) {
      return async (id): Promise<ConformanceItem[]> => {
        // Knex passes .options() through to pg's query config: { name } makes it a named statement
        const result = await db
          .raw<{ rows: ConformanceItem[] }>(
            `select id, label from ${conformanceTable} where id = ?`,
            [id],
          )
          .options({ name });
        return result.rows;
      };
    },
    close: () => db.destroy(),
    ...parts,
  };
}

/**
 * How Knex on Lifeguard words an acquire timeout after the suites' 200 ms: still a
 * KnexTimeoutError (Knex's runner adds the SQL to it), with Lifeguard's code and text.
 */
export const lifeguardAcquireTimeout =
  /^Knex: Timeout acquiring a connection\. Timed out after 200 ms/;

/**
 * Knex on LifeguardClient as the conformance suites run it: the suite's URL and `max`, its
 * `acquireTimeoutMillis` (Knex's `acquireConnectionTimeout`) on a manual clock when set, plus
 * `poolSettings` behind PgBouncer.
 */
export function lifeguardKnexSubject(
  { url, max, acquireTimeoutMillis }: ConformanceOptions,
  expectations: ConformanceExpectations,
  poolSettings?: PgBouncerPoolSettings,
): ConformanceSubject {
  const clock = acquireTimeoutMillis === undefined ? undefined : new ManualClock();
  const db = knex({
    client: LifeguardClient,
    connection: url,
    pool: { max, ...poolSettings, ...(clock === undefined ? {} : { clock }) },
    ...(acquireTimeoutMillis === undefined
      ? {}
      : { acquireConnectionTimeout: acquireTimeoutMillis }),
  });
  return knexSubject(db, {
    ...(clock === undefined ? {} : { advanceTime: (millis: number) => clock.advance(millis) }),
    expectations,
  });
}
