/**
 * The adapters of the repository and the one workload they all run, for the cross-adapter metric
 * tests of both exporters (docs/metrics.md: the same workload yields the same metric names and labels).
 */
import { drizzle } from "@lifeguard/drizzle";
import { LifeguardClient } from "@lifeguard/knex";
import { Pool } from "@lifeguard/pg";
import { PrismaLifeguard } from "@lifeguard/prisma";
import { loadPrismaClient } from "@lifeguard/test-fixtures/prisma";
import { sql } from "drizzle-orm";
import knex from "knex";

/** One adapter: opens a Lifeguard pool named `name` through its own API, and runs SQL through it. */
export interface Adapter {
  readonly id: string;
  open(url: string, name: string): Promise<AdapterSession>;
}
export interface AdapterSession {
  query(sql: string): Promise<unknown>;
  close(): Promise<void>;
}

/** Every adapter in the repository, each opened with `name` and `max: 1`, running plain SQL through its usual API. */
export const adapters: readonly Adapter[] = [
  {
    id: "pg",
    async open(url, name) {
      const pool = new Pool({ connectionString: url, name, max: 1 });
      return { query: (text) => pool.query(text), close: () => pool.end() };
    },
  },
  {
    id: "drizzle",
    async open(url, name) {
      const db = drizzle({ connection: url, pool: { name, max: 1 } });
      return { query: (text) => db.execute(sql.raw(text)), close: () => db.$client.end() };
    },
  },
  {
    id: "knex",
    async open(url, name) {
      const db = knex({ client: LifeguardClient, connection: url, pool: { name, min: 0, max: 1 } });
      return { query: (text) => db.raw(text), close: () => db.destroy() };
    },
  },
  {
    id: "prisma",
    async open(url, name) {
      const { PrismaClient } = await loadPrismaClient(); // generated on first use (test-fixtures/prisma)
      const prisma = new PrismaClient({
        adapter: new PrismaLifeguard({ connectionString: url, name, max: 1 }),
      });
      return {
        // a statement that returns no rows goes through $executeRaw, a query through $queryRaw
        query: (text) =>
          /^\s*set\b/i.test(text) ? prisma.$executeRawUnsafe(text) : prisma.$queryRawUnsafe(text),
        close: () => prisma.$disconnect(), // closes the pool the adapter made
      };
    },
  },
];

/**
 * The workload every adapter runs on a pool of one connection (so every step waits for the one
 * before, clean-up included: the counts are exact): plain queries, a burst that waits, a session
 * change that is reset on release.
 */
export const QUERIES = 12;
export async function workload(session: AdapterSession): Promise<void> {
  for (let i = 0; i < 4; i++) await session.query("select 1");
  // a burst of 6 on one connection: five callers wait
  await Promise.all(Array.from({ length: 6 }, () => session.query("select 2 as two")));
  // a statement that changes the session: reset on release, before the next borrower gets it
  await session.query("set application_name = 'metrics-adapters'");
  await session.query("select current_setting('application_name')");
}
