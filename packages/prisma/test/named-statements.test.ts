import { createHash } from "node:crypto";
import type { PrismaTestQueries } from "@lifeguard/test-fixtures/prisma";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { PrismaLifeguard } from "../src/index.js";
import { backendPid, usePrisma } from "./helpers.js";

const h = usePrisma();

/** What applications pass to cache every statement: a stable name per SQL text. */
const statementNameGenerator = (query: { sql: string }) =>
  `prisma_${createHash("sha1").update(query.sql).digest("hex").slice(0, 16)}`;

/** Names of the statements prepared on the backend `client` runs on. */
async function preparedOnServer(client: PrismaTestQueries): Promise<string[]> {
  const rows = await client.$queryRawUnsafe<{ name: string }[]>(
    "select name from pg_prepared_statements order by name",
  );
  return rows.map((row) => row.name);
}

const findPublished = (prisma: PrismaTestQueries) =>
  prisma.post.findMany({ where: { published: true }, select: { title: true } });

describe("statementNameGenerator's named statements", () => {
  it.each(["auto", "always"] as const)(
    "keep working across session resets (reset %s)",
    async (reset) => {
      const used: string[] = [];
      const adapter = new PrismaLifeguard(
        { connectionString: h.db.url, max: 1, reset },
        {
          statementNameGenerator: (query) => {
            const name = statementNameGenerator(query);
            used.push(name);
            return name;
          },
        },
      );
      const prisma = h.client(adapter);
      await prisma.user.create({
        data: { email: "a@example.com", posts: { create: { title: "p", published: true } } },
      });
      const pid = await backendPid(prisma);
      used.length = 0;
      expect(await findPublished(prisma)).toEqual([{ title: "p" }]);
      expect(used).toHaveLength(1);
      const name = used[0] as string;
      /** Runs the query and lists the statements prepared, on one lease. */
      const findAndList = () =>
        prisma.$transaction(async (tx) => ({
          rows: await findPublished(tx),
          prepared: await preparedOnServer(tx),
        }));
      expect(await findAndList()).toEqual({
        rows: [{ title: "p" }],
        prepared: expect.arrayContaining([name]),
      });

      for (let i = 0; i < 5; i++) {
        // a SET dirties the session: its release runs DISCARD ALL, deallocating every statement
        await prisma.$executeRawUnsafe(`set statement_timeout = '${5 + i}s'`);
        expect(await preparedOnServer(prisma)).not.toContain(name);
        // pg's cache of parsed statements was cleared with it, so pg prepares it again
        expect(await findAndList()).toEqual({
          rows: [{ title: "p" }],
          prepared: expect.arrayContaining([name]),
        });
      }
      // the same backend served everything: only the resets can have deallocated the statements
      expect(await backendPid(prisma)).toBe(pid);
      expect(adapter.pool.stats().connector["resets"]).toBeGreaterThanOrEqual(5);
    },
  );

  it("keep working after the application runs DEALLOCATE ALL itself", async () => {
    const prisma = h.client(
      new PrismaLifeguard({ connectionString: h.db.url, max: 1 }, { statementNameGenerator }),
    );
    expect(await findPublished(prisma)).toEqual([]);
    await prisma.$executeRawUnsafe("deallocate all");
    expect(await findPublished(prisma)).toEqual([]);
  });

  it("on PrismaPg (plain pg.Pool) fail after DEALLOCATE ALL: pg still believes they are prepared", async () => {
    const pool = new pg.Pool({ connectionString: h.db.url, max: 1 });
    h.defer(() => pool.end());
    const prisma = h.client(new PrismaPg(pool, { statementNameGenerator }));
    expect(await findPublished(prisma)).toEqual([]);
    await prisma.$executeRawUnsafe("deallocate all");
    await expect(findPublished(prisma)).rejects.toMatchObject({
      meta: { driverAdapterError: { cause: { originalCode: "26000" } } },
    });
  });
});
