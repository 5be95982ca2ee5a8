/**
 * Per-test-file isolation on the shared server, and private servers for destructive tests.
 *
 * The shared server (DATABASE_URL or the run's embedded PostgreSQL, see global-setup.ts) is reached
 * through `inject("pgUrl")`. Tests never use it directly: each file gets its own database with
 * `useTestDatabase()` (or `createTestDatabase()`), so files can run in parallel. Tests that stop,
 * restart or reconfigure a server use `usePrivateServer()`: never the shared one.
 */
import { randomBytes } from "node:crypto";
import { basename } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, expect, inject } from "vitest";
import {
  type EmbeddedPostgres,
  type EmbeddedPostgresOptions,
  startEmbeddedPostgres,
} from "./embedded-server.js";
import { binDirFromEnv } from "./server-major.js";

export interface TestDatabase {
  /** Connection URL of this database (same server, user and options as the server URL). */
  readonly url: string;
  readonly name: string;
  /** `DROP DATABASE ... WITH (FORCE)`: terminates leftover connections first. Idempotent. */
  drop(): Promise<void>;
}

export interface CreateTestDatabaseOptions {
  /** The server to create it on. Default: the shared server, `inject("pgUrl")`. */
  serverUrl?: string;
}

/** Every database this harness creates starts with this, so leftovers are easy to find. */
export const TEST_DATABASE_PREFIX = "lgtest_";

let counter = 0;

/**
 * Create a fresh, empty database (from template0) with a unique name: `lgtest_<prefix>_<pid>_<n>_<random>`,
 * where prefix defaults to the current test file's name.
 */
export async function createTestDatabase(
  prefix?: string,
  options: CreateTestDatabaseOptions = {},
): Promise<TestDatabase> {
  const serverUrl = options.serverUrl ?? inject("pgUrl");
  const name = uniqueDatabaseName(prefix ?? testFileName());
  await withClient(serverUrl, async (client) => {
    await client.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0`);
  });
  let dropped: Promise<void> | undefined;
  return {
    url: databaseUrl(serverUrl, name),
    name,
    drop() {
      dropped ??= withClient(serverUrl, async (client) => {
        await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      });
      return dropped;
    },
  };
}

/**
 * Register `beforeAll` (create) and `afterAll` (drop) for a database of this test file, and return an
 * object whose `url` and `name` are valid inside tests and hooks.
 */
export function useTestDatabase(prefix?: string): TestDatabase {
  return useBeforeAll(
    "useTestDatabase(): the database",
    () => createTestDatabase(prefix),
    (database) => database.drop(),
  );
}

/**
 * Start a private embedded PostgreSQL in `beforeAll` and destroy it in `afterAll`, for tests that stop,
 * restart or reconfigure a server. The returned object forwards to the server (valid inside tests).
 */
export function usePrivateServer(options: EmbeddedPostgresOptions = {}): EmbeddedPostgres {
  return useBeforeAll(
    "usePrivateServer(): the server",
    () => {
      // the same PostgreSQL build as the shared server (LIFEGUARD_PG_MAJOR / LIFEGUARD_PG_BIN)
      const binDir = options.binDir ?? binDirFromEnv();
      return startEmbeddedPostgres(binDir === undefined ? options : { ...options, binDir });
    },
    (server) => server.destroy(),
  );
}

/**
 * Creates something in `beforeAll` and disposes of it in `afterAll`, and returns an object that
 * forwards every property and method to it, read at each access: valid inside tests and hooks that
 * run after that `beforeAll`; anywhere else an access throws, saying that `what` exists only there.
 * (It is not a thenable: awaiting it gives it back.) The `use*()` helpers are built on it.
 */
export function useBeforeAll<T extends object>(
  what: string,
  create: () => Promise<T>,
  dispose: (resource: T) => Promise<void>,
): T {
  let resource: T | undefined;
  beforeAll(async () => {
    resource = await create();
  });
  afterAll(async () => {
    if (resource !== undefined) await dispose(resource);
    resource = undefined;
  });
  const current = (): T => {
    if (resource === undefined) {
      throw new Error(`${what} exists only inside tests and hooks that run after its beforeAll`);
    }
    return resource;
  };
  return new Proxy({} as T, {
    get(_handle, property) {
      if (property === "then") return undefined;
      const target = current();
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
    has: (_handle, property) => property in current(),
  });
}

/** Connect, run `fn`, always disconnect. */
export async function withClient<T>(
  url: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  // A backend terminated while we hold the client must not crash the test worker.
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The URL of another database on the same server (keeps user, password, host, port, options). */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

function uniqueDatabaseName(prefix: string): string {
  counter += 1;
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "_")
      .replace(/^_+|_+$/g, "")
      .slice(0, 28) || "db";
  const suffix = `${process.pid.toString(36)}_${counter}_${randomBytes(4).toString("hex")}`;
  return `${TEST_DATABASE_PREFIX}${clean}_${suffix}`; // at most 7 + 28 + 1 + ~24 < 63 characters
}

/** "pool-timeouts" for .../test/pool-timeouts.test.ts; "db" outside a test file. */
function testFileName(): string {
  const testPath = expect.getState().testPath;
  return testPath ? basename(testPath).replace(/\.(test|spec)\.[cm]?[jt]sx?$/, "") : "db";
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
