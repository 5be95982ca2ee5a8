import pg from "pg";

/** A PostgreSQL server for a database suite, and how to let it go. */
export interface BenchDatabase {
  readonly url: string;
  /** For the report: "18.1 (embedded)" or "16.4 (DATABASE_URL)". */
  readonly description: string;
  stop(): Promise<void>;
}

/**
 * Settings of the embedded server: the default `max_connections` (100) is too tight for the suites
 * that open many connections at once (connection churn at concurrency 16 leaves backends exiting
 * while new ones start; the idle-connection suite holds 50 at a time).
 */
const EMBEDDED_SERVER_CONFIG = { max_connections: "300" };

/**
 * The database a suite runs against, as the test harness picks it: `DATABASE_URL` when set,
 * otherwise a throw-away embedded PostgreSQL (the harness's `startEmbeddedPostgres()`, loaded only
 * here, in the runner's process) that `stop()` destroys.
 */
export async function startBenchDatabase(): Promise<BenchDatabase> {
  const fromEnv = process.env["DATABASE_URL"];
  let url: string;
  let stop: () => Promise<void>;
  let source: string;
  if (fromEnv !== undefined && fromEnv !== "") {
    url = fromEnv;
    stop = () => Promise.resolve();
    source = "DATABASE_URL";
  } else {
    const { startEmbeddedPostgres } = await import("@lifeguard/test-fixtures");
    const server = await startEmbeddedPostgres({ serverConfig: EMBEDDED_SERVER_CONFIG });
    url = server.url;
    stop = () => server.destroy();
    source = "embedded, fsync off, loopback";
  }
  try {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ server_version: string }>("show server_version");
      const version = rows[0]?.server_version ?? "unknown";
      return { url, description: `${version} (${source})`, stop };
    } finally {
      await client.end();
    }
  } catch (error) {
    await stop();
    throw error;
  }
}
