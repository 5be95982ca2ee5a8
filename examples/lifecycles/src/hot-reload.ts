/**
 * Re-runs src/db.ts 50 times, as a dev server's hot reload does (an import with a new query string
 * each time), and counts pools and server backends.
 *
 *   pnpm --filter @lifeguard/example-lifecycles hot-reload
 *
 * Uses DATABASE_URL when set; otherwise starts a throw-away embedded PostgreSQL.
 */
import { startEmbeddedPostgres } from "@lifeguard/embedded";
import type { Pool } from "@lifeguard/pg";

const embedded = process.env["DATABASE_URL"] ? undefined : await startEmbeddedPostgres();
process.env["DATABASE_URL"] ??= embedded?.url;

const pools = new Set<Pool>();
for (let run = 1; run <= 50; run++) {
  const { pool } = (await import(`./db.ts?run=${run}`)) as { pool: Pool };
  await pool.query("select 1");
  pools.add(pool);
}
const [pool] = pools as Set<Pool>;
const { rows } = await (pool as Pool).query<{ n: number }>(
  "select count(*)::int as n from pg_stat_activity where application_name = 'example-hot-reload'",
);
console.log(
  `db.ts ran ${(globalThis as { runs?: number }).runs} times: ${pools.size} pool(s), ${rows[0]?.n} server backend(s)`,
);
await (pool as Pool).end();
await embedded?.destroy();
