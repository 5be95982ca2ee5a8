import { describe, expect, it } from "vitest";
import { PrismaLifeguard } from "../src/index.js";
import { backendPid, usePrisma } from "./helpers.js";

const h = usePrisma();

describe("interactive transactions", () => {
  it("commit: every statement on one backend, invisible outside until commit", async () => {
    const prisma = h.client(new PrismaLifeguard({ connectionString: h.db.url, max: 2 }));
    const result = await prisma.$transaction(async (tx) => {
      const pid = await backendPid(tx);
      await tx.account.create({ data: { owner: "a", balance: 10 } });
      await tx.account.create({ data: { owner: "b", balance: 0 } });
      // another request runs on the pool's other connection and cannot see them yet
      expect(await prisma.account.count()).toBe(0);
      expect(await backendPid(tx)).toBe(pid);
      return "done";
    });
    expect(result).toBe("done");
    expect(await prisma.account.count()).toBe(2);
  });

  it("rollback: an error thrown inside undoes the work and reaches the caller unchanged", async () => {
    const prisma = h.client(new PrismaLifeguard({ connectionString: h.db.url, max: 1 }));
    const boom = new Error("undo");
    const outcome = await prisma
      .$transaction(async (tx) => {
        await tx.account.create({ data: { owner: "a", balance: 10 } });
        throw boom;
      })
      .catch((error: unknown) => error);
    expect(outcome).toBe(boom);
    expect(await prisma.account.count()).toBe(0);
  });

  it("rollback: an SQL error inside fails the transaction; the connection stays in service", async () => {
    const adapter = new PrismaLifeguard({ connectionString: h.db.url, max: 1 });
    const prisma = h.client(adapter);
    await prisma.account.create({ data: { owner: "a", balance: 10 } });
    const outcome = prisma.$transaction(async (tx) => {
      await tx.account.update({ where: { owner: "a" }, data: { balance: 0 } });
      await tx.account.create({ data: { owner: "a", balance: 1 } }); // unique violation
    });
    await expect(outcome).rejects.toMatchObject({ code: "P2002" });
    expect(await prisma.account.findUnique({ where: { owner: "a" } })).toMatchObject({
      balance: 10,
    });
    expect(adapter.pool.stats().counters.creates).toBe(1);
  });

  it("honours the isolation level", async () => {
    const prisma = h.client(new PrismaLifeguard(h.db.url));
    const level = await prisma.$transaction(
      async (tx) =>
        (
          await tx.$queryRawUnsafe<{ level: string }[]>(
            "select current_setting('transaction_isolation') as level",
          )
        )[0]?.level,
      { isolationLevel: "Serializable" },
    );
    expect(level).toBe("serializable");
    // the next transaction on the same connection is back to the default
    const next = await prisma.$transaction(
      async (tx) =>
        (
          await tx.$queryRawUnsafe<{ level: string }[]>(
            "select current_setting('transaction_isolation') as level",
          )
        )[0]?.level,
    );
    expect(next).toBe("read committed");
  });

  it("nests: a failed inner transaction rolls back to its savepoint, the outer one commits", async () => {
    const prisma = h.client(new PrismaLifeguard(h.db.url));
    await prisma.$transaction(async (tx) => {
      await tx.account.create({ data: { owner: "outer", balance: 1 } });
      await tx
        .$transaction(async (inner) => {
          await inner.account.create({ data: { owner: "inner", balance: 2 } });
          throw new Error("inner fails");
        })
        .catch(() => undefined);
      await tx.$transaction(async (inner) => {
        await inner.account.create({ data: { owner: "kept", balance: 3 } });
      });
    });
    expect((await prisma.account.findMany({ orderBy: { id: "asc" } })).map((a) => a.owner)).toEqual(
      ["outer", "kept"],
    );
  });

  it("keep their invariants under concurrency on a small pool", async () => {
    const adapter = new PrismaLifeguard({ connectionString: h.db.url, max: 3 });
    const prisma = h.client(adapter, { maxWait: 10_000, timeout: 10_000 });
    await prisma.account.createMany({
      data: Array.from({ length: 4 }, (_, i) => ({ owner: `o${i}`, balance: 100 })),
    });
    const transfer = (from: number, to: number, amount: number) =>
      prisma.$transaction(async (tx) => {
        // rows are locked in one order, so concurrent transfers wait for each other, never deadlock
        for (const owner of [from, to].sort((a, b) => a - b)) {
          await tx.account.update({
            where: { owner: `o${owner}` },
            data: { balance: owner === from ? { decrement: amount } : { increment: amount } },
          });
        }
        const source = await tx.account.findUniqueOrThrow({ where: { owner: `o${from}` } });
        if (source.balance < 0) throw new Error("insufficient funds");
      });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => transfer(i % 4, (i + 1 + (i % 3)) % 4, 7 + (i % 5) * 9)),
    );
    const failures = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason] : []));
    for (const failure of failures)
      expect(failure).toMatchObject({ message: "insufficient funds" });
    expect(failures.length).toBeLessThan(outcomes.length);
    const accounts = await prisma.account.findMany();
    expect(accounts.reduce((sum, a) => sum + a.balance, 0)).toBe(400);
    for (const account of accounts) expect(account.balance).toBeGreaterThanOrEqual(0);
    const stats = adapter.pool.stats();
    expect(stats.counters.acquires).toBe(stats.counters.releases);
    expect(stats.total).toBeLessThanOrEqual(3);
  });
});

describe("batch transactions", () => {
  it("run every query in one transaction and return their results in order", async () => {
    const prisma = h.client(new PrismaLifeguard({ connectionString: h.db.url, max: 2 }));
    const [a, b, count] = await prisma.$transaction([
      prisma.account.create({ data: { owner: "a", balance: 1 } }),
      prisma.account.create({ data: { owner: "b", balance: 2 } }),
      prisma.account.count(),
    ]);
    expect(a).toMatchObject({ owner: "a" });
    expect(b).toMatchObject({ owner: "b" });
    expect(count).toBe(2);
  });

  it("roll back every query when one fails", async () => {
    const prisma = h.client(new PrismaLifeguard({ connectionString: h.db.url, max: 2 }));
    await prisma.account.create({ data: { owner: "a", balance: 1 } });
    await expect(
      prisma.$transaction([
        prisma.account.create({ data: { owner: "b", balance: 2 } }),
        prisma.account.update({ where: { owner: "a" }, data: { balance: 50 } }),
        prisma.account.create({ data: { owner: "a", balance: 3 } }), // unique violation
      ]),
    ).rejects.toMatchObject({ code: "P2002" });
    expect(await prisma.account.findMany()).toEqual([{ id: 1, owner: "a", balance: 1 }]);
  });
});
