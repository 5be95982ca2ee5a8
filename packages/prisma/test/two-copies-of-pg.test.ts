// This file's modules (PrismaLifeguard, @lifeguard/pg, the test harness) get a second copy of pg,
// while @prisma/adapter-pg, loaded by Node outside Vitest's module graph, keeps the first: the
// application that has two copies of pg because adapter-pg needed a version of its own.

import { Pool } from "@lifeguard/pg";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import { PrismaPg } from "@prisma/adapter-pg";
import { describe, expect, it, vi } from "vitest";
import { PrismaLifeguard } from "../src/index.js";

vi.mock("pg", async () => {
  const { loadSecondCopyOfPg } = await import("./second-pg.js");
  const pg = loadSecondCopyOfPg();
  return { ...pg, default: pg };
});

const db = useTestDatabase();

describe("when @prisma/adapter-pg has a pg of its own", () => {
  it("PrismaPg takes the Lifeguard pool for a config object and silently opens a plain pg.Pool", async () => {
    const pool = new Pool({ connectionString: db.url });
    try {
      const driver = await new PrismaPg(pool).connect();
      expect(driver.underlyingDriver()).not.toBe(pool);
      await driver.dispose();
    } finally {
      await pool.end();
    }
  });

  it("PrismaLifeguard refuses it when Prisma connects, says how to fix it, and closes its pool", async () => {
    const adapter = new PrismaLifeguard({ connectionString: db.url });
    const error = await adapter.connect().then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toMatchObject({
      code: "LIFEGUARD_INVALID_OPTION",
      message: expect.stringMatching(
        /not an instance of the pg\.Pool class that @prisma\/adapter-pg loads/,
      ),
    });
    expect((error as Error).message).toMatch(/two copies of the `pg` package.*npm ls pg/s);
    expect(adapter.pool.stats().state).toBe("closed");
  });
});
