import { Pool } from "@lifeguard/pg";
import {
  lifeguardExpectations,
  recordUnlistenedErrors,
  runConformanceSuite,
  useTestDatabase,
  withClient,
} from "@lifeguard/test-fixtures";
import { defineRelations, eq } from "drizzle-orm";
import { drizzle as drizzleOnPgPool } from "drizzle-orm/node-postgres";
import { integer, pgTable, text } from "drizzle-orm/pg-core";
import { npmVersion } from "drizzle-orm/version";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { drizzle } from "../src/index.js";
import { drizzleSubject, lifeguardAcquireTimeout, lifeguardDrizzleSubject } from "./subject.js";

// Every test in this file, the adapter's source and subject.ts included, runs on drizzle-orm 1.0
// (installed as the alias drizzle-orm-v1); the package's other tests run on 0.45.
vi.mock("drizzle-orm", () => import("drizzle-orm-v1"));
vi.mock("drizzle-orm/node-postgres", () => import("drizzle-orm-v1/node-postgres"));
vi.mock("drizzle-orm/pg-core", () => import("drizzle-orm-v1/pg-core"));
vi.mock("drizzle-orm/version", () => import("drizzle-orm-v1/version"));

it("this file runs on drizzle-orm 1.0", () => {
  expect(npmVersion).toMatch(/^1\.0\.0/);
});

runConformanceSuite("drizzle 1.0 on Lifeguard", (options) =>
  lifeguardDrizzleSubject(options, lifeguardExpectations(lifeguardAcquireTimeout)),
);

// The same suite on drizzle 1.0's own node-postgres pool (pg.Pool), asserting where it differs.
runConformanceSuite(
  "drizzle 1.0 on pg.Pool (its default)",
  ({ url, max, acquireTimeoutMillis }) => {
    const db = drizzleOnPgPool({
      connection: {
        connectionString: url,
        max,
        ...(acquireTimeoutMillis === undefined
          ? {}
          : { connectionTimeoutMillis: acquireTimeoutMillis }),
      },
    });
    return drizzleSubject(db, {
      close: () => db.$client.end(),
      unlistenedErrors: recordUnlistenedErrors(db.$client),
      expectations: {
        resetsSessions: false,
        namedStatementsSurviveDeallocate: false,
        // 1.0 listens for errors on a transaction's connection (and retires it); an idle
        // connection's death still reaches pg.Pool's 'error' event, which nobody listens to
        unlistenedErrorsOnBackendDeath: { idle: true, inTransaction: false },
        acquireTimeoutError: { message: /timeout exceeded when trying to connect/ },
        closedError: { message: /Cannot use a pool after calling end on the pool/ },
      },
    });
  },
);

describe("drizzle 1.0's API on Lifeguard", () => {
  const db = useTestDatabase();
  const authors = pgTable("v1_authors", { id: integer().primaryKey(), name: text().notNull() });
  const books = pgTable("v1_books", {
    id: integer().primaryKey(),
    authorId: integer("author_id").notNull(),
    title: text().notNull(),
  });
  const relations = defineRelations({ authors, books }, (r) => ({
    authors: { books: r.many.books() },
    books: { author: r.one.authors({ from: r.books.authorId, to: r.authors.id }) },
  }));
  const pools: Pool[] = [];
  afterEach(async () => {
    for (const pool of pools.splice(0)) await pool.end();
  });
  beforeAll(async () => {
    await withClient(db.url, (admin) =>
      admin.query(`
        create table if not exists v1_authors (id int primary key, name text not null);
        create table if not exists v1_books (id int primary key, author_id int not null, title text not null);
        insert into v1_authors values (1, 'Le Guin') on conflict do nothing;
        insert into v1_books values (1, 1, 'The Dispossessed'), (2, 1, 'Lathe of Heaven') on conflict do nothing;
      `),
    );
  });

  it("relations (v2) power db.query on drizzle({ connection, relations, pool })", async () => {
    const orm = drizzle({ connection: db.url, relations, pool: { max: 2 } });
    pools.push(orm.$client);
    expect(orm.$client).toBeInstanceOf(Pool);
    const found = await orm.query.authors.findFirst({
      where: { id: 1 },
      with: { books: { orderBy: { id: "asc" } } },
    });
    expect(found).toEqual({
      id: 1,
      name: "Le Guin",
      books: [
        { id: 1, authorId: 1, title: "The Dispossessed" },
        { id: 2, authorId: 1, title: "Lathe of Heaven" },
      ],
    });
  });

  it("drizzle(pool, { relations }) and drizzle({ client: pool }) share one Lifeguard Pool", async () => {
    const pool = new Pool({ connectionString: db.url, max: 1 });
    pools.push(pool);
    const a = drizzle(pool, { relations });
    const b = drizzle({ client: pool });
    expect(a.$client).toBe(pool);
    expect(b.$client).toBe(pool);
    const book = await a.query.books.findFirst({ where: { id: 2 }, with: { author: true } });
    expect(book?.author?.name).toBe("Le Guin");
    expect(await b.select().from(books).where(eq(books.id, 1))).toEqual([
      { id: 1, authorId: 1, title: "The Dispossessed" },
    ]);
  });

  it("prepared statements, named and unnamed, run on the pool and survive a session reset", async () => {
    const orm = drizzle({ connection: db.url, pool: { max: 1 } });
    pools.push(orm.$client);
    const { placeholder } = await import("drizzle-orm");
    const byId = orm
      .select({ title: books.title })
      .from(books)
      .where(eq(books.id, placeholder("id")));
    const named = byId.prepare("v1_book_by_id");
    const unnamed = byId.prepare();
    expect(await named.execute({ id: 1 })).toEqual([{ title: "The Dispossessed" }]);
    expect(await unnamed.execute({ id: 2 })).toEqual([{ title: "Lathe of Heaven" }]);
    // a request that changes the session: Lifeguard resets it (DISCARD ALL drops the statements)
    await orm.execute("set application_name to 'changed'");
    expect(await named.execute({ id: 2 })).toEqual([{ title: "Lathe of Heaven" }]);
    expect(await unnamed.execute({ id: 1 })).toEqual([{ title: "The Dispossessed" }]);
    expect(orm.$client.stats().connector["resets"]).toBeGreaterThanOrEqual(1);
  });
});
