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
import { eq, type SQL, sql } from "drizzle-orm";
import type { NodePgDatabase } from "drizzle-orm/node-postgres";
import { integer, type PgTransaction, pgTable, text } from "drizzle-orm/pg-core";
import { drizzle } from "../src/index.js";

export const items = pgTable(conformanceTable, {
  id: integer("id").primaryKey(),
  label: text("label").notNull(),
});

/** `$1`-style SQL and its parameters as Drizzle's `sql` (each `$n` becomes a bound parameter). */
export function toSql(text: string, params: readonly unknown[] = []): SQL {
  const chunks: SQL[] = [];
  let last = 0;
  for (const match of text.matchAll(/\$(\d+)/g)) {
    chunks.push(sql.raw(text.slice(last, match.index)));
    chunks.push(sql`${params[Number(match[1]) - 1]}`);
    last = match.index + match[0].length;
  }
  chunks.push(sql.raw(text.slice(last)));
  return sql.join(chunks);
}

// biome-ignore lint/suspicious/noExplicitAny: any Drizzle pg transaction (the HKTs do not matter here)
type AnyTransaction = PgTransaction<any, any, any>;
/** What a Drizzle database and a Drizzle transaction have in common here. */
interface Runner {
  execute(query: SQL): PromiseLike<{ rows: Record<string, unknown>[] }>;
  transaction<T>(fn: (tx: AnyTransaction) => Promise<T>): Promise<T>;
}

function queryable(runner: Runner): ConformanceQueryable {
  return {
    async query(text, params) {
      const result = await runner.execute(toSql(text, params));
      return result.rows;
    },
    transaction(fn) {
      return runner.transaction((tx) => fn(queryable(tx)));
    },
  };
}

/** A conformance subject over a Drizzle database on node-postgres (Lifeguard's or pg's pool). */
export function drizzleSubject(
  db: NodePgDatabase,
  parts: {
    close: () => Promise<void>;
    expectations: ConformanceExpectations;
    advanceTime?: (millis: number) => Promise<void>;
    unlistenedErrors?: () => readonly unknown[];
  },
): ConformanceSubject {
  return {
    ...queryable(db),
    prepared(name) {
      const statement = db
        .select({ id: items.id, label: items.label })
        .from(items)
        .where(eq(items.id, sql.placeholder("id")))
        .prepare(name);
      return (id): Promise<ConformanceItem[]> => statement.execute({ id });
    },
    ...parts,
  };
}

/** How Drizzle on Lifeguard words an acquire timeout after the suites' 200 ms. */
export const lifeguardAcquireTimeout = /Timed out after 200 ms waiting for a connection/;

/**
 * Drizzle on Lifeguard as the conformance suites run it: the suite's URL and `max`, its
 * `acquireTimeoutMillis` on a manual clock when set, plus `poolSettings` behind PgBouncer.
 */
export function lifeguardDrizzleSubject(
  { url, max, acquireTimeoutMillis }: ConformanceOptions,
  expectations: ConformanceExpectations,
  poolSettings?: PgBouncerPoolSettings,
): ConformanceSubject {
  const clock = acquireTimeoutMillis === undefined ? undefined : new ManualClock();
  const db = drizzle({
    connection: url,
    pool: {
      max,
      ...poolSettings,
      ...(acquireTimeoutMillis === undefined ? {} : { acquireTimeoutMillis }),
      ...(clock === undefined ? {} : { clock }),
    },
  });
  return drizzleSubject(db, {
    close: () => db.$client.end(),
    ...(clock === undefined ? {} : { advanceTime: (millis: number) => clock.advance(millis) }),
    expectations,
  });
}
