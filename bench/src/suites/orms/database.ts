import pg from "pg";
import { startBenchDatabase } from "../../framework/database.js";
import type { SuiteSetup } from "../../framework/types.js";

/** What every ORM contender gets: the database URL of the shared benchmark table. */
export interface OrmState {
  readonly url: string;
}

/** Rows in the table; each operation picks one at random. */
export const ROWS = 1000;
/** Pool size for every contender. */
export const POOL_SIZE = 10;
/** The table both ORMs query: `(id integer primary key, label text not null, n integer not null)`. */
export const TABLE = "bench_items";

/** A row id for the next operation. */
export function randomId(): number {
  return 1 + Math.floor(Math.random() * ROWS);
}

/**
 * The database for the ORM suites (`DATABASE_URL`, else an embedded server for the suite's run, as
 * every database suite gets it) with the benchmark table filled.
 */
export async function setupDatabase(): Promise<SuiteSetup<OrmState>> {
  const db = await startBenchDatabase();
  try {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(`drop table if exists ${TABLE}`);
      await client.query(
        `create table ${TABLE} (id integer primary key, label text not null, n integer not null)`,
      );
      await client.query(
        `insert into ${TABLE} select i, 'item ' || i, 0 from generate_series(1, ${ROWS}) as i`,
      );
    } finally {
      await client.end();
    }
  } catch (error) {
    await db.stop();
    throw error;
  }
  return {
    state: { url: db.url },
    environment: { PostgreSQL: db.description },
    teardown: () => db.stop(),
  };
}
