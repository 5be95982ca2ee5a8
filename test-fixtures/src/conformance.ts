/**
 * The conformance suite every adapter runs (docs/testing.md): one function, `runConformanceSuite(name,
 * factory)`, that registers a `describe` block of tests against a real database of its own.
 *
 * The factory builds a *subject*: the ORM under test wrapped in a small uniform API (`query`,
 * `transaction`, `prepared`, `close`), plus `expectations` describing its pool. Subjects never hand
 * ORM objects to the suite, so any ORM (Drizzle, Knex, Prisma with a generated client) can run it
 * unchanged, on Lifeguard and on its own default pool; where a default pool behaves differently,
 * its `expectations` say so and the suite asserts that behaviour.
 */
import type { EventEmitter } from "node:events";
import { afterEach, beforeEach, describe, expect, inject, it, vi } from "vitest";
import { type TestDatabase, useTestDatabase, withClient } from "./database.js";

/** What the suite asks of a factory. */
export interface ConformanceOptions {
  /**
   * The database under test. Its `application_name` marks this subject's connections (the suite
   * counts and kills them by it): pass the URL to the ORM unchanged.
   */
  readonly url: string;
  /** Most connections the pool may hold. */
  readonly max: number;
  /**
   * How long a request may wait for a connection. Set only by the acquire-timeout test; otherwise
   * leave the ORM's default. A factory that can give its pool a manual clock does so when this is
   * set, and exposes `advanceTime`.
   */
  readonly acquireTimeoutMillis?: number;
}

/** One row, with column names as keys. */
export type ConformanceRow = Record<string, unknown>;

/** Something that runs SQL: the subject itself (each call is one request) or a transaction. */
export interface ConformanceQueryable {
  /**
   * Runs one statement through the ORM's raw-SQL API. Parameters are PostgreSQL's `$1, $2 ...`
   * (an adapter converts them if its ORM wants `?`); resolves to the rows.
   */
  query(sql: string, params?: readonly unknown[]): Promise<ConformanceRow[]>;
  /**
   * Runs `fn` in the ORM's transaction API: committed when `fn` resolves, rolled back (and the
   * error rethrown unchanged) when it throws. On a transaction this is the ORM's nested transaction
   * (a savepoint).
   */
  transaction<T>(fn: (tx: ConformanceQueryable) => Promise<T>): Promise<T>;
}

/** A row of the suite's table, `conformanceTable`. */
export interface ConformanceItem {
  id: number;
  label: string;
}

/** The ORM under test, as the suite drives it. */
export interface ConformanceSubject extends ConformanceQueryable {
  /**
   * A named prepared statement through the ORM's own API (Drizzle `.prepare(name)`, a Knex raw
   * query with `.options({ name })`, Prisma's `statementNameGenerator`): selects `id` and `label`
   * from `conformanceTable` where `id` equals its argument. The statement must be named `name` on
   * the server (the suite looks for it in `pg_prepared_statements`).
   */
  prepared(name: string): (id: number) => Promise<ConformanceItem[]>;
  /** Closes the ORM and its pool (`db.$client.end()`, `knex.destroy()`, `$disconnect()`). */
  close(): Promise<void>;
  /**
   * Moves the pool's manual clock forward. Only when the factory gave the pool one (see
   * `acquireTimeoutMillis`); otherwise the suite waits for the real deadline.
   */
  advanceTime?(millis: number): Promise<void>;
  /**
   * Errors the pool emitted on an EventEmitter that, in the ORM's default set-up, nothing listens
   * to: each would have been an uncaught exception ending the application's process (pg.Pool's
   * 'error' on the pool or on a checked-out client: pg #1324). Record them with
   * `recordUnlistenedErrors(pool)`. Leave this out for a pool that never emits an error without a
   * listener: an uncaught 'error' then fails the test run, which is that assertion.
   */
  unlistenedErrors?(): readonly unknown[];
  /** How this subject's pool behaves where pools differ. */
  readonly expectations: ConformanceExpectations;
}

/** An error the suite expects: a `code` and a message somewhere along its `cause` chain. */
export interface ExpectedError {
  readonly code?: string;
  readonly message: RegExp;
}

/** Where pools differ. Lifeguard subjects expect the first three to be `true`, `true`, `false`. */
export interface ConformanceExpectations {
  /** A SET (or `set_config`) in one request is gone in the next request on the same backend. */
  readonly resetsSessions: boolean;
  /**
   * Sessions are reset after a request that only read or wrote rows, too: a Lifeguard pool in
   * reset `'auto'` on a server that does not report `search_path` (PostgreSQL < 18), where any
   * statement may have run a function that changed it unseen. Its named statements are then
   * deallocated after every request (and prepared again by the next). Default `false`.
   */
  readonly resetsAfterReads?: boolean;
  /**
   * After the application runs `DEALLOCATE ALL` itself, a named prepared statement still works;
   * `false`: it fails with "prepared statement does not exist" (26000) because pg still believes
   * the statement is parsed.
   */
  readonly namedStatementsSurviveDeallocate: boolean;
  /**
   * A backend that dies while idle, or between a transaction's statements, raises an error no
   * application code listens for (see `unlistenedErrors`). An object when the two cases differ
   * (drizzle-orm 1.0 listens on a transaction's connection, not on the idle pool).
   */
  readonly unlistenedErrorsOnBackendDeath:
    | boolean
    | { readonly idle: boolean; readonly inTransaction: boolean };
  /** What a request gets when the pool is exhausted past `acquireTimeoutMillis`. */
  readonly acquireTimeoutError: ExpectedError;
  /** What a request gets after `close()`. */
  readonly closedError: ExpectedError;
}

/** Builds a fresh subject for one test; the suite closes it. */
export type ConformanceFactory = (
  options: ConformanceOptions,
) => ConformanceSubject | Promise<ConformanceSubject>;

/**
 * What a subject on a Lifeguard pool expects, directly or through PgBouncer: sessions reset (not
 * behind a transaction-mode PgBouncer: `resetsSessions` false), named statements survive the
 * application's DEALLOCATE ALL, no unlistened errors, and Lifeguard's error codes.
 * `acquireTimeoutMessage` is how the ORM words an acquire timeout (after the suite's 200 ms).
 */
export function lifeguardExpectations(
  acquireTimeoutMessage: RegExp,
  resetsSessions = true,
): ConformanceExpectations {
  return {
    resetsSessions,
    // PgBouncer relays the server's start-up reports, so this depends on the server's major only
    resetsAfterReads: resetsSessions && inject("pgMajor") < 18,
    namedStatementsSurviveDeallocate: true,
    unlistenedErrorsOnBackendDeath: false,
    acquireTimeoutError: { code: "LIFEGUARD_ACQUIRE_TIMEOUT", message: acquireTimeoutMessage },
    closedError: { code: "LIFEGUARD_POOL_CLOSED", message: /closed/i },
  };
}

/** Whether a backend's death in that state raises an error no application code listens for. */
function unlistenedOnDeath(
  expectations: ConformanceExpectations,
  state: "idle" | "inTransaction",
): boolean {
  const expected = expectations.unlistenedErrorsOnBackendDeath;
  return typeof expected === "boolean" ? expected : expected[state];
}

/** The table the suite creates: `(id integer primary key, label text not null)`. */
export const conformanceTable = "conformance_items";

/**
 * Collects the errors a pg.Pool emits where an application following the ORM's set-up has no
 * listener: `'error'` on the pool (an idle client died) and `'error'` on a client while it is
 * checked out (pg.Pool removes its own listener then). Adding the listener keeps the test process
 * alive; the suite then asserts what would have crashed an application.
 */
export function recordUnlistenedErrors(pool: EventEmitter): () => readonly unknown[] {
  const errors: unknown[] = [];
  const onPoolError = (error: unknown) => {
    if (pool.listenerCount("error") === 1) errors.push(error);
  };
  pool.on("error", onPoolError);
  pool.on("connect", (client: EventEmitter) => {
    const onClientError = (error: unknown) => {
      // pg.Pool listens on idle clients itself; on a checked-out client ours is the only listener
      if (client.listenerCount("error") === 1) errors.push(error);
    };
    client.on("error", onClientError);
  });
  return () => errors;
}

let subjectCounter = 0;

/** A subject the harness started, and the `application_name` that marks its connections. */
export interface StartedSubject {
  readonly subject: ConformanceSubject;
  readonly applicationName: string;
}

/** What a conformance-style suite's tests use; see `useConformanceHarness`. */
export interface ConformanceHarness {
  /** A subject from the suite's factory on the suite's database; closed after the test. */
  start(options: Omit<ConformanceOptions, "url">): Promise<StartedSubject>;
  /** The rows of `conformanceTable`, read over a connection of its own. */
  items(): Promise<ConformanceItem[]>;
  /**
   * Holds `queryable` in a transaction (running `fn` in it first) until `release()`; resolves once
   * inside. Released after the test at the latest.
   */
  hold(
    queryable: ConformanceQueryable,
    fn?: (tx: ConformanceQueryable) => Promise<void>,
  ): Promise<{ release: () => void; held: Promise<void> }>;
}

/**
 * Registers what every conformance-style suite does around its tests on `db`: `conformanceTable`
 * created and emptied before each test, held transactions released and subjects closed after it.
 * Subjects' `application_name`s start with `prefix`.
 */
export function useConformanceHarness(
  db: TestDatabase,
  factory: ConformanceFactory,
  prefix: string,
): ConformanceHarness {
  const open: StartedSubject[] = [];
  const cleanups: (() => void)[] = [];

  beforeEach(async () => {
    await withClient(db.url, async (admin) => {
      await admin.query(
        `create table if not exists ${conformanceTable} (id integer primary key, label text not null)`,
      );
      await admin.query(`truncate ${conformanceTable}`);
    });
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) cleanup();
    for (const { subject } of open.splice(0)) await subject.close().catch(() => undefined);
  });

  return {
    async start(options) {
      const applicationName = `${prefix}_${process.pid}_${++subjectCounter}`;
      const url = new URL(db.url);
      url.searchParams.set("application_name", applicationName);
      const subject = await factory({ ...options, url: url.toString() });
      const entry = { subject, applicationName };
      open.push(entry);
      return entry;
    },

    async items() {
      return withClient(db.url, async (admin) => {
        const { rows } = await admin.query<ConformanceItem>(
          `select id, label from ${conformanceTable} order by id`,
        );
        return rows;
      });
    },

    async hold(queryable, fn) {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const held = queryable.transaction(async (tx) => {
        await tx.query("select 1");
        await fn?.(tx);
        entered();
        await gate;
      });
      cleanups.push(release);
      await Promise.race([inside, held]);
      return { release, held };
    },
  };
}

/**
 * Registers the acquire-timeout test: with the pool's one connection held, a request fails past
 * `acquireTimeoutMillis` with the subject's `acquireTimeoutError`, and the pool serves again once
 * the connection is back.
 */
export function acquireTimeoutTest(harness: ConformanceHarness): void {
  it("acquire timeout: a request fails when the pool stays exhausted past the deadline", async () => {
    const timeout = 200;
    const { subject } = await harness.start({ max: 1, acquireTimeoutMillis: timeout });
    const { release, held } = await harness.hold(subject);
    let settled = false;
    const waiting = subject.query("select 1 as one").then(
      (rows) => rows,
      (error: unknown) => error,
    );
    void waiting.then(() => {
      settled = true;
    });
    const advance = subject.advanceTime?.bind(subject);
    if (advance !== undefined) {
      await vi.waitFor(
        async () => {
          await advance(timeout);
          expect(settled).toBe(true);
        },
        { timeout: 10_000, interval: 5 },
      );
    }
    const error = await waiting;
    release();
    await held;
    expectError(error, subject.expectations.acquireTimeoutError);
    // the pool serves again once the connection is back
    expect(await subject.query("select 1 as one")).toEqual([{ one: 1 }]);
  });
}

/**
 * Registers the conformance suite for one adapter (or one ORM's default pool) as a `describe`
 * block named `name`, with a database of its own on the shared server.
 */
export function runConformanceSuite(name: string, factory: ConformanceFactory): void {
  describe(name, () => {
    const db = useTestDatabase(`conformance_${name}`);
    const harness = useConformanceHarness(db, factory, "lgconf");
    const { start, items, hold } = harness;

    async function connectionsNamed(applicationName: string): Promise<number> {
      return withClient(db.url, async (admin) => {
        const { rows } = await admin.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where application_name = $1",
          [applicationName],
        );
        return rows[0]?.n ?? -1;
      });
    }

    it("CRUD: insert, select, update and delete with parameters", async () => {
      const { subject } = await start({ max: 2 });
      expect(
        await subject.query(
          `insert into ${conformanceTable} (id, label) values ($1, $2), ($3, $4) returning id, label`,
          [1, "one", 2, "two"],
        ),
      ).toEqual([
        { id: 1, label: "one" },
        { id: 2, label: "two" },
      ]);
      expect(
        await subject.query(`select id, label from ${conformanceTable} where id = $1`, [2]),
      ).toEqual([{ id: 2, label: "two" }]);
      expect(
        await subject.query(
          `update ${conformanceTable} set label = $1 where id = $2 returning id, label`,
          ["uno", 1],
        ),
      ).toEqual([{ id: 1, label: "uno" }]);
      expect(
        await subject.query(`delete from ${conformanceTable} where id = $1 returning id`, [2]),
      ).toEqual([{ id: 2 }]);
      expect(await subject.query(`select id, label from ${conformanceTable} order by id`)).toEqual([
        { id: 1, label: "uno" },
      ]);
      expect(await items()).toEqual([{ id: 1, label: "uno" }]);
    });

    describe("transactions", () => {
      it("commit: the work is visible afterwards, and the function's result is returned", async () => {
        const { subject } = await start({ max: 2 });
        const result = await subject.transaction(async (tx) => {
          await tx.query(`insert into ${conformanceTable} (id, label) values ($1, $2)`, [1, "a"]);
          await tx.query(`insert into ${conformanceTable} (id, label) values ($1, $2)`, [2, "b"]);
          return "done";
        });
        expect(result).toBe("done");
        expect(await items()).toEqual([
          { id: 1, label: "a" },
          { id: 2, label: "b" },
        ]);
      });

      it("rollback: a function that throws undoes the work and its error reaches the caller", async () => {
        const { subject } = await start({ max: 2 });
        const boom = new Error("roll it back");
        const outcome = await subject
          .transaction(async (tx) => {
            await tx.query(`insert into ${conformanceTable} (id, label) values ($1, $2)`, [1, "a"]);
            throw boom;
          })
          .catch((error: unknown) => error);
        expect(outcome).toBe(boom);
        expect(await items()).toEqual([]);
      });

      it("nested: a failed inner transaction rolls back to its savepoint; the outer one commits", async () => {
        const { subject } = await start({ max: 2 });
        const boom = new Error("inner fails");
        await subject.transaction(async (tx) => {
          await tx.query(`insert into ${conformanceTable} (id, label) values (1, 'outer')`);
          const inner = await tx
            .transaction(async (nested) => {
              await nested.query(`insert into ${conformanceTable} (id, label) values (2, 'inner')`);
              throw boom;
            })
            .catch((error: unknown) => error);
          expect(inner).toBe(boom);
          await tx.query(`insert into ${conformanceTable} (id, label) values (3, 'after')`);
          await tx.transaction(async (nested) => {
            await nested.query(`insert into ${conformanceTable} (id, label) values (4, 'kept')`);
          });
        });
        expect((await items()).map((item) => item.id)).toEqual([1, 3, 4]);
      });

      it("an SQL error inside rolls the transaction back; the connection stays in service", async () => {
        const { subject } = await start({ max: 1 });
        await subject.query(`insert into ${conformanceTable} (id, label) values (1, 'one')`);
        const pid = await pidOf(subject);
        const outcome = await subject
          .transaction(async (tx) => {
            await tx.query(`insert into ${conformanceTable} (id, label) values (2, 'two')`);
            await tx.query(`insert into ${conformanceTable} (id, label) values (1, 'duplicate')`);
          })
          .catch((error: unknown) => error);
        expect(sqlStates(outcome)).toContain("23505");
        expect(await items()).toEqual([{ id: 1, label: "one" }]);
        // a statement error is not a reason to close the connection
        expect(await pidOf(subject)).toBe(pid);
        expect(await subject.query("select 1 as one")).toEqual([{ one: 1 }]);
      });

      it("runs every statement on one backend, in one transaction, invisible outside until commit", async () => {
        const { subject } = await start({ max: 2 });
        const identity = "select pg_backend_pid() as pid, txid_current()::text as xid";
        await subject.transaction(async (tx) => {
          const [first] = await tx.query(identity);
          await tx.query(`insert into ${conformanceTable} (id, label) values (10, 'inside')`);
          // a request outside the transaction runs on the pool's other connection
          const outside = await subject.query(
            `select count(*)::int as n from ${conformanceTable} where id = 10`,
          );
          expect(outside).toEqual([{ n: 0 }]);
          const [second] = await tx.query(identity);
          expect(second).toEqual(first);
        });
        expect(await items()).toEqual([{ id: 10, label: "inside" }]);
      });
    });

    describe("named prepared statements", () => {
      const statement = "conformance_lookup";

      async function isPrepared(subject: ConformanceSubject): Promise<boolean> {
        const rows = await subject.query(
          "select count(*)::int as n from pg_prepared_statements where name = $1",
          [statement],
        );
        return rows[0]?.["n"] === 1;
      }

      it("work before and after a lease that dirtied its session", async () => {
        const { subject } = await start({ max: 1 });
        await subject.query(
          `insert into ${conformanceTable} (id, label) values (1, 'one'), (2, 'two')`,
        );
        const lookup = subject.prepared(statement);
        expect(await lookup(1)).toEqual([{ id: 1, label: "one" }]);
        const afterReads = !subject.expectations.resetsAfterReads;
        expect(await isPrepared(subject)).toBe(afterReads);
        const pid = await pidOf(subject);

        await subject.query("set statement_timeout = '3s'");
        // a pool that resets sessions deallocated the statement on the server
        expect(await isPrepared(subject)).toBe(!subject.expectations.resetsSessions);
        expect(await lookup(2)).toEqual([{ id: 2, label: "two" }]);
        expect(await lookup(1)).toEqual([{ id: 1, label: "one" }]);
        expect(await isPrepared(subject)).toBe(afterReads);
        expect(await pidOf(subject)).toBe(pid);
      });

      it(`after the application's own DEALLOCATE ALL`, async () => {
        const { subject } = await start({ max: 1 });
        await subject.query(`insert into ${conformanceTable} (id, label) values (1, 'one')`);
        const lookup = subject.prepared(statement);
        expect(await lookup(1)).toEqual([{ id: 1, label: "one" }]);
        await subject.query("deallocate all");
        const outcome = await lookup(1).catch((error: unknown) => error);
        if (subject.expectations.namedStatementsSurviveDeallocate) {
          expect(outcome).toEqual([{ id: 1, label: "one" }]);
        } else {
          expect(sqlStates(outcome)).toContain("26000");
          expect(messages(outcome)).toMatch(
            /prepared statement "conformance_lookup" does not exist/,
          );
        }
      });
    });

    it("session isolation: a SET in one request is not visible to the next", async () => {
      const { subject } = await start({ max: 1 });
      const pid = await pidOf(subject);
      const show = async () =>
        (await subject.query("show statement_timeout"))[0]?.["statement_timeout"];
      const tenant = async () =>
        (await subject.query("select current_setting('conformance.tenant', true) as tenant"))[0]?.[
          "tenant"
        ];
      const defaultTimeout = await show();
      expect(defaultTimeout).not.toBe("4321ms");

      await subject.query("set statement_timeout = '4321ms'");
      const timeoutAfter = await show();
      await subject.transaction(async (tx) => {
        await tx.query("select set_config('conformance.tenant', 'tenant-a', false)");
      });
      const tenantAfter = await tenant();
      // the same backend served every request, so only a reset can have cleaned it
      expect(await pidOf(subject)).toBe(pid);

      if (subject.expectations.resetsSessions) {
        expect(timeoutAfter).toBe(defaultTimeout);
        expect(tenantAfter ?? "").toBe("");
      } else {
        expect(timeoutAfter).toBe("4321ms");
        expect(tenantAfter).toBe("tenant-a");
      }
    });

    describe("a backend killed", () => {
      it("while idle: the next requests succeed on a new backend", async () => {
        const { subject } = await start({ max: 1 });
        const pid = await pidOf(subject);
        await terminateBackends(db.url, [pid]);
        const unlistened = subject.unlistenedErrors ?? (() => []);
        const expectUnlistened = unlistenedOnDeath(subject.expectations, "idle");
        if (expectUnlistened) {
          await vi.waitFor(() => expect(unlistened().length).toBeGreaterThan(0));
        }

        const outcomes = await settleEach(5, () => pidOf(subject));
        expect(outcomes.filter((o) => o.status === "rejected")).toEqual([]);
        for (const outcome of outcomes)
          expect(outcome).not.toEqual({ status: "fulfilled", value: pid });

        if (expectUnlistened) {
          expect(messages(unlistened()[0])).toMatch(/terminat/i);
        } else {
          expect(unlistened()).toEqual([]);
        }
      });

      it("in a transaction: that transaction fails, the next one works", async () => {
        const { subject } = await start({ max: 1 });
        let killed: number | undefined;
        const outcome = await subject
          .transaction(async (tx) => {
            await tx.query(`insert into ${conformanceTable} (id, label) values (1, 'lost')`);
            killed = await pidOf(tx);
            await terminateBackends(db.url, [killed]);
            await tx.query("select 1");
          })
          .then(
            () => "committed",
            (error: unknown) => error,
          );
        expect(outcome).toBeInstanceOf(Error);
        expect(killed).toBeTypeOf("number");

        const next = await subject.transaction(async (tx) => {
          await tx.query(`insert into ${conformanceTable} (id, label) values (2, 'kept')`);
          return pidOf(tx);
        });
        expect(next).not.toBe(killed);
        expect(await items()).toEqual([{ id: 2, label: "kept" }]);

        const unlistened = subject.unlistenedErrors?.() ?? [];
        if (unlistenedOnDeath(subject.expectations, "inTransaction")) {
          expect(unlistened.length).toBeGreaterThan(0);
        } else {
          expect(unlistened).toEqual([]);
        }
      });
    });

    acquireTimeoutTest(harness);

    it("close: every connection ends and later requests fail", async () => {
      const { subject, applicationName } = await start({ max: 2 });
      const { release, held } = await hold(subject);
      expect(await subject.query("select 1 as one")).toEqual([{ one: 1 }]);
      release();
      await held;
      expect(await connectionsNamed(applicationName)).toBeGreaterThan(0);

      await subject.close();
      await vi.waitFor(async () => expect(await connectionsNamed(applicationName)).toBe(0), {
        timeout: 10_000,
      });
      const after = await subject.query("select 1").catch((error: unknown) => error);
      expectError(after, subject.expectations.closedError);
    });
  });
}

/** The backend serving `queryable`'s next statement. */
export async function pidOf(queryable: ConformanceQueryable): Promise<number> {
  const [row] = await queryable.query("select pg_backend_pid() as pid");
  const pid = row?.["pid"];
  if (typeof pid !== "number") throw new Error(`pg_backend_pid() returned ${String(pid)}`);
  return pid;
}

/** Terminates backends as a DBA or a failover would, and waits until the server has removed them. */
export async function terminateBackends(url: string, pids: readonly number[]): Promise<void> {
  await withClient(url, async (admin) => {
    await admin.query("select pg_terminate_backend(pid) from unnest($1::int[]) as pid", [pids]);
    await vi.waitFor(
      async () => {
        const { rows } = await admin.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where pid = any($1::int[])",
          [pids],
        );
        expect(rows[0]?.n).toBe(0);
      },
      { timeout: 10_000, interval: 5 },
    );
  });
}

async function settleEach<T>(times: number, fn: () => Promise<T>) {
  const outcomes: PromiseSettledResult<T>[] = [];
  for (let i = 0; i < times; i++) {
    outcomes.push(
      await fn().then(
        (value) => ({ status: "fulfilled", value }) as const,
        (reason: unknown) => ({ status: "rejected", reason }) as const,
      ),
    );
  }
  return outcomes;
}

/** An error and its causes: ORMs wrap driver errors (Drizzle's DrizzleQueryError, ...). */
function chain(error: unknown): { code?: unknown; message?: unknown }[] {
  const errors: { code?: unknown; message?: unknown }[] = [];
  let current = error;
  while (typeof current === "object" && current !== null && errors.length < 10) {
    const record = current as { code?: unknown; message?: unknown; cause?: unknown };
    errors.push(record);
    current = record.cause;
  }
  return errors;
}

/** The `code`s along an error's `cause` chain (SQLSTATEs, Lifeguard's codes). */
export function sqlStates(error: unknown): unknown[] {
  return chain(error).map((e) => e.code);
}

function messages(error: unknown): string {
  return chain(error)
    .map((e) => String(e.message))
    .join("\n");
}

/** Asserts that `error` is an Error with `expected`'s message and code along its `cause` chain. */
export function expectError(error: unknown, expected: ExpectedError): void {
  expect(error).toBeInstanceOf(Error);
  expect(messages(error)).toMatch(expected.message);
  if (expected.code !== undefined) expect(sqlStates(error)).toContain(expected.code);
}
