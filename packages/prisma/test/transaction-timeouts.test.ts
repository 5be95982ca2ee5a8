import { once } from "node:events";
import { Pool } from "@lifeguard/pg";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { describe, expect, it, vi } from "vitest";
import { PrismaLifeguard, type PrismaLifeguardDriverAdapter } from "../src/index.js";
import { backendPid, usePrisma } from "./helpers.js";

const h = usePrisma();

/**
 * Whether the statement runs inside a transaction that began before it: an autocommit statement's
 * own transaction starts with it, a leftover transaction earlier.
 */
const inheritedTransactionSql =
  "select xact_start <> statement_timestamp() as inherited from pg_stat_activity where pid = pg_backend_pid()";

async function inheritsTransaction(pool: pg.Pool): Promise<boolean> {
  const { rows } = await pool.query<{ inherited: boolean }>(inheritedTransactionSql);
  return rows[0]?.inherited as boolean;
}

describe("a transaction that times out on Prisma's side", () => {
  it("(timeout) is rolled back: the next borrower of its connection starts clean", async () => {
    const adapter = new PrismaLifeguard({ connectionString: h.db.url, max: 1 });
    const prisma = h.client(adapter);
    const pid = await backendPid(prisma);
    // the transaction's connection goes back to the pool when Prisma's timer closes it
    const closed = once(adapter.pool, "release");
    const outcome = prisma.$transaction(
      async (tx) => {
        await tx.account.create({ data: { owner: "lost", balance: 1 } });
        await closed;
        await tx.account.count(); // too late: the transaction is gone
      },
      { timeout: 100 },
    );
    await expect(outcome).rejects.toMatchObject({
      code: "P2028",
      message: expect.stringMatching(/expired transaction/),
    });
    expect(await inheritsTransaction(adapter.pool)).toBe(false);
    expect(await backendPid(prisma)).toBe(pid); // the same connection, not a new one
    expect(await prisma.account.count()).toBe(0);
  });

  it("(maxWait) whose connection arrives late is rolled back before anyone else gets it", async () => {
    const adapter = new PrismaLifeguard({ connectionString: h.db.url, max: 1 });
    const prisma = h.client(adapter);
    const held = await adapter.pool.connect();
    const outcome = prisma.$transaction(async (tx) => tx.account.count(), { maxWait: 50 });
    await expect(outcome).rejects.toMatchObject({
      code: "P2028",
      message: expect.stringMatching(/Unable to start a transaction in the given time/),
    });
    held.release();
    // Prisma still gets the connection, begins, then discards the transaction
    await vi.waitFor(() => {
      const { counters, idle } = adapter.pool.stats();
      expect([counters.acquires, counters.releases, idle]).toEqual([2, 2, 1]);
    });
    expect(await inheritsTransaction(adapter.pool)).toBe(false);
  });
});

describe("a driver transaction given back without COMMIT or ROLLBACK", () => {
  // adapter-pg's Transaction.rollback() and commit() only release the connection: Prisma sends
  // the ROLLBACK/COMMIT first. A path that skips it (Prisma before the fix for prisma/orm#29719
  // discarded a late transaction that way) hands the pool a connection inside a transaction.

  async function leakTransaction(adapter: {
    connect(): Promise<PrismaLifeguardDriverAdapter>;
  }): Promise<void> {
    const driver = await adapter.connect();
    const tx = await driver.startTransaction();
    await tx.executeRaw({
      sql: "insert into accounts (owner, balance) values ('leaked', 1)",
      args: [],
      argTypes: [],
    });
    await tx.rollback();
    await driver.dispose();
  }

  it("Lifeguard rolls it back on release: the next borrower starts clean, the work is gone", async () => {
    const pool = new Pool({ connectionString: h.db.url, max: 1 });
    h.defer(() => pool.end());
    await leakTransaction(new PrismaLifeguard(pool));
    expect(await inheritsTransaction(pool)).toBe(false);
    expect(pool.stats().connector["rollbacks"]).toBe(1);
    expect((await pool.query("select count(*)::int as n from accounts")).rows).toEqual([{ n: 0 }]);
  });

  it("pg.Pool hands the open transaction to the next borrower", async () => {
    const pool = new pg.Pool({ connectionString: h.db.url, max: 1 });
    h.defer(() => pool.end());
    await leakTransaction(new PrismaPg(pool));
    expect(await inheritsTransaction(pool)).toBe(true);
    // the next borrower sees the leaked row: its work and the leak now commit or fail together
    expect((await pool.query("select count(*)::int as n from accounts")).rows).toEqual([{ n: 1 }]);
  });
});
