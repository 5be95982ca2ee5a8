import type { TestDatabase } from "@lifeguard/test-fixtures";
import { useTestDatabase, withClient } from "@lifeguard/test-fixtures";
import type {
  PrismaTestClient,
  PrismaTestClientClass,
  PrismaTestQueries,
  TransactionOptions,
} from "@lifeguard/test-fixtures/prisma";
import { createPrismaTables, loadPrismaClient } from "@lifeguard/test-fixtures/prisma";
import { afterEach, beforeAll } from "vitest";

/** Terminates backends as a DBA or a failover would, and waits until the server has removed them. */
export { terminateBackends as terminate } from "@lifeguard/test-fixtures";

export interface PrismaHarness {
  readonly db: TestDatabase;
  /** A generated PrismaClient on `adapter`; disconnected after the test. */
  client(adapter: unknown, transactionOptions?: TransactionOptions): PrismaTestClient;
  /** Runs after the test, before the clients are disconnected (pools, held connections ...). */
  defer(cleanup: () => unknown): void;
}

/**
 * A database of this file's own with the schema's tables (test-fixtures/prisma/schema.sql), the
 * generated client (generated on the first run, see test-fixtures/prisma/index.ts), and cleanup.
 */
export function usePrisma(): PrismaHarness {
  const db = useTestDatabase();
  let PrismaClient: PrismaTestClientClass | undefined;
  const clients: PrismaTestClient[] = [];
  const cleanups: (() => unknown)[] = [];
  beforeAll(async () => {
    await createPrismaTables(db.url);
    ({ PrismaClient } = await loadPrismaClient());
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    for (const client of clients.splice(0)) await client.$disconnect().catch(() => undefined);
    await withClient(db.url, (admin) =>
      admin.query("truncate users, posts, accounts, conformance_items restart identity cascade"),
    );
  });
  return {
    db,
    client(adapter, transactionOptions) {
      if (PrismaClient === undefined) throw new Error("usePrisma(): use client() inside tests");
      const client = new PrismaClient({
        adapter,
        ...(transactionOptions === undefined ? {} : { transactionOptions }),
      });
      clients.push(client);
      return client;
    },
    defer(cleanup) {
      cleanups.push(cleanup);
    },
  };
}

/** The backend a query runs on. */
export async function backendPid(client: PrismaTestQueries): Promise<number> {
  const [row] = await client.$queryRawUnsafe<{ pid: number }[]>("select pg_backend_pid() as pid");
  if (typeof row?.pid !== "number") throw new Error("pg_backend_pid() returned no number");
  return row.pid;
}

/** How many backends carry this `application_name`. */
export async function connectionsNamed(url: string, applicationName: string): Promise<number> {
  return withClient(url, async (admin) => {
    const { rows } = await admin.query<{ n: number }>(
      "select count(*)::int as n from pg_stat_activity where application_name = $1",
      [applicationName],
    );
    return rows[0]?.n ?? -1;
  });
}

/** The URL with `application_name` set, so a test can find its pool's backends. */
export function withApplicationName(url: string, applicationName: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set("application_name", applicationName);
  return parsed.toString();
}

/** A promise and the function that resolves it. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
