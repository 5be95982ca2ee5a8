import pg from "pg";
import type { Pool } from "../src/index.js";

/** Terminates backends from a separate connection, as a DBA or a failover would. */
export async function terminate(url: string, pids: number[]): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  admin.on("error", () => undefined);
  await admin.connect();
  try {
    await admin.query("select pg_terminate_backend(pid) from unnest($1::int[]) as pid", [pids]);
    // wait until the server has really removed them
    for (;;) {
      const { rows } = await admin.query<{ n: number }>(
        "select count(*)::int as n from pg_stat_activity where pid = any($1::int[])",
        [pids],
      );
      if (rows[0]?.n === 0) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    await admin.end();
  }
}

/** Backend pids of the pool's idle clients, by borrowing each once. */
export async function backendPids(pool: Pool, count: number): Promise<number[]> {
  const clients = [];
  for (let i = 0; i < count; i++) clients.push(await pool.connect());
  const pids = await Promise.all(
    clients.map(
      async (c) =>
        (await c.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]?.pid as number,
    ),
  );
  for (const c of clients) c.release();
  return pids;
}

export async function pidOf(client: { query: pg.Client["query"] }): Promise<number> {
  const { rows } = await client.query<{ pid: number }>("select pg_backend_pid() as pid");
  return rows[0]?.pid as number;
}
