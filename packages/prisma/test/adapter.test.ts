import { InvalidOptionError, ManualClock } from "@lifeguard/core";
import { BACKOFF_MAX_MILLIS } from "@lifeguard/core/internal";
import { Pool } from "@lifeguard/pg";
import { startFaultProxy, withClient } from "@lifeguard/test-fixtures";
import { PrismaPg } from "@prisma/adapter-pg";
import type { SqlDriverAdapterFactory } from "@prisma/client/runtime/client";
import pg from "pg";
import { describe, expect, it, vi } from "vitest";
import { PrismaLifeguard } from "../src/index.js";
import {
  backendPid,
  connectionsNamed,
  terminate,
  usePrisma,
  withApplicationName,
} from "./helpers.js";
import { loadSecondCopyOfPg } from "./second-pg.js";

const h = usePrisma();
let appCounter = 0;
const applicationName = () => `lgprisma_${process.pid}_${++appCounter}`;

describe("the pool", () => {
  it("passes adapter-pg's `instanceof pg.Pool` check: Prisma's queries run on the Lifeguard pool", async () => {
    // what PrismaClient's `adapter` option takes (checked by tsc)
    const adapter = new PrismaLifeguard({ connectionString: h.db.url });
    const factory: SqlDriverAdapterFactory = adapter;
    expect(factory.provider).toBe("postgres");
    expect(adapter.pool).toBeInstanceOf(Pool);
    expect(adapter.pool).toBeInstanceOf(pg.Pool);
    const driver = await adapter.connect();
    try {
      expect(driver.underlyingDriver()).toBe(adapter.pool);
    } finally {
      await driver.dispose();
    }
  });

  it("from options: $disconnect() closes it; the next query opens a new one", async () => {
    const app = applicationName();
    const adapter = new PrismaLifeguard({ connectionString: withApplicationName(h.db.url, app) });
    const prisma = h.client(adapter);
    const first = adapter.pool;
    await prisma.user.count();
    expect(await connectionsNamed(h.db.url, app)).toBe(1);

    await prisma.$disconnect();
    expect(first.stats().state).toBe("closed");
    // the server removes a backend just after its client has gone
    await vi.waitFor(async () => expect(await connectionsNamed(h.db.url, app)).toBe(0));

    expect(await prisma.user.count()).toBe(0); // Prisma connects again
    expect(adapter.pool).not.toBe(first);
    expect(adapter.pool.stats().state).toBe("open");
  });

  it("from a connection string, as PrismaPg takes one", async () => {
    const prisma = h.client(new PrismaLifeguard(h.db.url));
    expect(await prisma.user.count()).toBe(0);
  });

  it("given: $disconnect() leaves it open, and the next query uses it again", async () => {
    const pool = new Pool({ connectionString: h.db.url });
    h.defer(() => pool.end());
    const adapter = new PrismaLifeguard(pool);
    expect(adapter.pool).toBe(pool);
    const prisma = h.client(adapter);
    const pid = await backendPid(prisma);
    expect(pool.listenerCount("error")).toBe(1); // adapter-pg's

    await prisma.$disconnect();
    expect(pool.stats().state).toBe("open");
    expect(pool.listenerCount("error")).toBe(0);
    expect(await backendPid(prisma)).toBe(pid);
    expect((await pool.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
  });

  it("given, with adapter-pg's `disposeExternalPool`: $disconnect() closes it", async () => {
    const pool = new Pool({ connectionString: h.db.url });
    const prisma = h.client(new PrismaLifeguard(pool, { disposeExternalPool: true }));
    await prisma.user.count();
    await prisma.$disconnect();
    expect(pool.stats().state).toBe("closed");
  });

  it("bounds the wait for a connection (PrismaPg's pg.Pool waits forever by default)", async () => {
    const clock = new ManualClock();
    const pool = new Pool({ connectionString: h.db.url, max: 1, clock });
    h.defer(() => pool.end());
    const prisma = h.client(new PrismaLifeguard(pool));
    const held = await pool.connect();
    h.defer(() => held.release());
    const query = prisma.user.count().then(
      () => "served",
      (error: unknown) => error,
    );
    await vi.waitFor(() => expect(pool.waitingCount).toBe(1));
    await clock.advance(9_999);
    expect(pool.waitingCount).toBe(1);
    await clock.advance(1);
    // Prisma rethrows it as its own error, keeping Lifeguard's code and message
    expect(await query).toMatchObject({
      name: "PrismaClientKnownRequestError",
      code: "LIFEGUARD_ACQUIRE_TIMEOUT",
      message: expect.stringMatching(/Timed out after 10000 ms waiting for a connection/),
    });
  });

  it("fails fast while the database refuses connections, and recovers", async () => {
    const proxy = await startFaultProxy(h.db.url);
    h.defer(() => proxy.close());
    await proxy.refuse();
    const clock = new ManualClock();
    const pool = new Pool({ connectionString: proxy.url(h.db.url), clock });
    h.defer(() => pool.end());
    const prisma = h.client(new PrismaLifeguard(pool));
    // the first request's connect fails: it and the ones after it fail at once, not at 10 s
    for (let i = 0; i < 3; i++) {
      await expect(prisma.user.count()).rejects.toMatchObject({
        code: "LIFEGUARD_DB_UNAVAILABLE",
        message: expect.stringMatching(/cannot connect to the database: .*ECONNREFUSED/),
      });
    }
    await proxy.pass();
    await clock.advance(BACKOFF_MAX_MILLIS); // the pool's next connect attempt is due by then
    await vi.waitFor(() => expect(pool.stats().circuit).toBe("closed"));
    expect(await prisma.user.count()).toBe(0);
  });

  it("rejects invalid Lifeguard options when the adapter is made", () => {
    expect(() => new PrismaLifeguard({ connectionString: h.db.url, max: 0 })).toThrow(
      InvalidOptionError,
    );
    expect(() => new PrismaLifeguard({ connectionString: h.db.url, prePing: 5 as never })).toThrow(
      /prePing/,
    );
  });
});

describe("pools it refuses", () => {
  it("a plain pg.Pool: it has none of Lifeguard's checks", async () => {
    const pool = new pg.Pool({ connectionString: h.db.url });
    h.defer(() => pool.end());
    // the types refuse it too; this is for JavaScript callers
    expect(() => new PrismaLifeguard(pool as never)).toThrow(
      expect.objectContaining({
        code: "LIFEGUARD_INVALID_OPTION",
        message: expect.stringMatching(/plain pg\.Pool.*@lifeguard\/pg.*PrismaPg/s),
      }),
    );
  });

  it("a look-alike that is not a pg.Pool (adapter-pg would take it for a config object)", () => {
    const lookAlike = {
      connect: async () => ({}),
      query: async () => ({ rows: [] }),
      end: async () => undefined,
      on: () => lookAlike,
    };
    expect(() => new PrismaLifeguard(lookAlike as never)).toThrow(
      expect.objectContaining({
        code: "LIFEGUARD_INVALID_OPTION",
        message: expect.stringMatching(/not an instance of the pg\.Pool class/),
      }),
    );
  });

  it("a pool from a second copy of pg, with the fix in the message", async () => {
    const second = loadSecondCopyOfPg();
    expect(second.Pool).not.toBe(pg.Pool);
    const pool = new second.Pool({ connectionString: h.db.url });
    h.defer(() => pool.end());
    let error: unknown;
    try {
      new PrismaLifeguard(pool as never);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toMatch(/two copies of the `pg` package/);
    expect((error as Error).message).toMatch(/npm ls pg/);
  });
});

describe("adapter-pg's options pass through", () => {
  it("schema: Prisma's queries go to that schema", async () => {
    await withClient(h.db.url, (admin) =>
      admin.query(
        "create schema if not exists tenant_a; create table if not exists tenant_a.accounts (like public.accounts including all)",
      ),
    );
    const prisma = h.client(
      new PrismaLifeguard({ connectionString: h.db.url }, { schema: "tenant_a" }),
    );
    await prisma.account.create({ data: { owner: "t", balance: 1 } });
    const counts = await withClient(h.db.url, async (admin) => {
      const { rows } = await admin.query<{ tenant: number; public: number }>(
        "select (select count(*)::int from tenant_a.accounts) as tenant, (select count(*)::int from public.accounts) as public",
      );
      return rows[0];
    });
    expect(counts).toEqual({ tenant: 1, public: 0 });
  });

  it("onPoolError: hears an idle connection die (Lifeguard replaces it)", async () => {
    const errors: Error[] = [];
    const adapter = new PrismaLifeguard(
      { connectionString: h.db.url },
      { onPoolError: (error) => errors.push(error) },
    );
    const prisma = h.client(adapter);
    const pid = await backendPid(prisma);
    await terminate(h.db.url, [pid]);
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    expect(errors[0]?.message).toMatch(/terminat/);
    expect(await backendPid(prisma)).not.toBe(pid);
  });

  it("onConnectionError: hears the connection of a transaction die", async () => {
    const errors: Error[] = [];
    const prisma = h.client(
      new PrismaLifeguard(
        { connectionString: h.db.url },
        { onConnectionError: (error) => errors.push(error) },
      ),
    );
    const outcome = prisma.$transaction(async (tx) => {
      await terminate(h.db.url, [await backendPid(tx)]);
      await vi.waitFor(() => expect(errors).toHaveLength(1));
      await tx.user.count();
    });
    await expect(outcome).rejects.toThrow();
    expect(errors[0]?.message).toMatch(/terminat/);
    expect(await prisma.user.count()).toBe(0);
  });

  it.each(["PrismaPg on pg.Pool", "PrismaLifeguard"] as const)(
    "userDefinedTypeParser parses a user-defined type's values (%s)",
    async (kind) => {
      const oid = await withClient(h.db.url, async (admin) => {
        await admin.query(
          "do $$ begin create type mood as enum ('ok', 'sad'); exception when duplicate_object then null; end $$",
        );
        const { rows } = await admin.query<{ oid: number }>(
          "select oid::int as oid from pg_type where typname = 'mood'",
        );
        return rows[0]?.oid as number;
      });
      const seen: number[] = [];
      const userDefinedTypeParser = async (typeOid: number, value: unknown) => {
        seen.push(typeOid);
        return `mood:${String(value)}`;
      };
      let adapter: SqlDriverAdapterFactory;
      if (kind === "PrismaLifeguard") {
        adapter = new PrismaLifeguard({ connectionString: h.db.url }, { userDefinedTypeParser });
      } else {
        const pool = new pg.Pool({ connectionString: h.db.url });
        h.defer(() => pool.end());
        adapter = new PrismaPg(pool, { userDefinedTypeParser });
      }
      const prisma = h.client(adapter);
      const rows = await prisma.$queryRawUnsafe<{ m: string }[]>(
        "select 'sad'::mood as m union all select 'ok'::mood",
      );
      expect(rows).toEqual([{ m: "mood:sad" }, { m: "mood:ok" }]);
      expect(seen).toEqual([oid, oid]);
    },
  );
});
