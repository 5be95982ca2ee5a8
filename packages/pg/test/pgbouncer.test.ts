/**
 * The pg drop-in through a real PgBouncer (Debian's package, started by the harness: see
 * test-fixtures/src/pgbouncer.ts), in session and transaction mode. What Lifeguard itself does in
 * each mode, against the server directly, is in pgbouncer-options.test.ts.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { ManualClock } from "@lifeguard/core";
import {
  type ConformanceExpectations,
  type ConformanceItem,
  type ConformanceQueryable,
  type ConformanceSubject,
  conformanceTable,
  databaseUrl,
  type PgBouncer,
  runConformanceSuite,
  runTransactionModeSuite,
  skipWithoutPgBouncer,
  startPgBouncer,
  usePgBouncer,
  useTestDatabase,
  withClient,
} from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { type LifeguardPoolClient, Pool, type PoolConfig } from "../src/index.js";

const skip = skipWithoutPgBouncer(import.meta.url);
/**
 * PostgreSQL 18 reports search_path changes (PgBouncer relays the server's reports); below 18,
 * reset 'auto' also resets after every lease that may have run user code (docs/pg.md).
 */
const reportsSearchPath = inject("pgMajor") >= 18;

const lifeguardExpectations = {
  namedStatementsSurviveDeallocate: true,
  unlistenedErrorsOnBackendDeath: false,
  acquireTimeoutError: {
    code: "LIFEGUARD_ACQUIRE_TIMEOUT",
    message: /Timed out after 200 ms waiting for a connection/,
  },
  closedError: { code: "LIFEGUARD_POOL_CLOSED", message: /closed/i },
} as const;

describe.skipIf(skip)("the pg drop-in through a real PgBouncer", () => {
  // --- the conformance suite ----------------------------------------------------------------------

  const sessionBouncer = usePgBouncer({ poolMode: "session" });
  const transactionBouncer = usePgBouncer({ poolMode: "transaction", defaultPoolSize: 4 });

  // session mode pins one server session to each client: Lifeguard resets it as it would directly
  runConformanceSuite(
    "pg drop-in via PgBouncer (session mode)",
    ({ url, max, acquireTimeoutMillis }) => {
      const clock = acquireTimeoutMillis === undefined ? undefined : new ManualClock();
      const pool = new Pool({
        connectionString: sessionBouncer.urlFor(url),
        max,
        pgbouncer: "session",
        ...(acquireTimeoutMillis === undefined
          ? {}
          : { connectionTimeoutMillis: acquireTimeoutMillis }),
        ...(clock === undefined ? {} : { clock }),
      });
      return pgSubject(
        pool,
        { resetsSessions: true, resetsAfterReads: !reportsSearchPath, ...lifeguardExpectations },
        clock,
      );
    },
  );

  // transaction mode as docs/pgbouncer.md recommends it for PgBouncer < 1.21: see
  // runTransactionModeSuite for the cases that differ from runConformanceSuite, and why
  runTransactionModeSuite(
    "pg drop-in via PgBouncer (transaction mode, namedStatements: false)",
    transactionBouncer,
    ({ url, max, acquireTimeoutMillis }) => {
      const clock = acquireTimeoutMillis === undefined ? undefined : new ManualClock();
      const pool = new Pool({
        connectionString: transactionBouncer.urlFor(url),
        max,
        pgbouncer: "transaction",
        namedStatements: false,
        ...(acquireTimeoutMillis === undefined
          ? {}
          : { connectionTimeoutMillis: acquireTimeoutMillis }),
        ...(clock === undefined ? {} : { clock }),
      });
      return pgSubject(pool, { resetsSessions: false, ...lifeguardExpectations }, clock);
    },
    { warnsOnSessionState: true },
  );

  // --- what Lifeguard promises in each mode -------------------------------------------------------

  const db = useTestDatabase();
  const pools: (Pool | pg.Pool)[] = [];
  const bouncers: PgBouncer[] = [];
  afterEach(async () => {
    for (const pool of pools.splice(0)) await pool.end().catch(() => undefined);
    for (const bouncer of bouncers.splice(0)) await bouncer.destroy();
  });

  /** A PgBouncer of this test's own, in front of the shared server. */
  async function bouncer(
    poolMode: "session" | "transaction",
    extra: { defaultPoolSize?: number; maxClientConn?: number } = {},
  ): Promise<PgBouncer> {
    const started = await startPgBouncer({ target: inject("pgUrl"), poolMode, ...extra });
    bouncers.push(started);
    return started;
  }

  /** A Lifeguard pool on the test database through `via`, marked with an application_name. */
  function lifeguard(via: PgBouncer, name: string, config: PoolConfig = {}): Pool {
    const pool = new Pool({
      connectionString: via.urlFor(withApplicationName(db.url, name)),
      pgbouncer: via.poolMode === "transaction" ? "transaction" : "session",
      ...config,
    });
    pools.push(pool);
    return pool;
  }

  /** Server-side backends on the test database, seen directly (not through PgBouncer). */
  async function serverBackends(): Promise<{ pid: number; state: string }[]> {
    return withClient(databaseUrl(db.url, "postgres"), async (admin) => {
      const { rows } = await admin.query<{ pid: number; state: string }>(
        "select pid, state from pg_stat_activity where datname = $1 and pid <> pg_backend_pid() order by pid",
        [db.name],
      );
      return rows;
    });
  }

  /** PgBouncer's pool for the test database (SHOW POOLS). */
  async function bouncerPool(via: PgBouncer): Promise<Record<string, unknown>> {
    const rows = await via.admin("SHOW POOLS");
    return rows.find((row) => row["database"] === db.name) ?? {};
  }

  beforeAll(async () => {
    await withClient(db.url, (admin) =>
      admin.query("create table if not exists bounced (id serial primary key, owner text)"),
    );
  });

  describe("transaction mode", () => {
    const warnings: { pool: { name: string }; code: string; message: string }[] = [];
    const onWarning = (event: unknown) => warnings.push(event as (typeof warnings)[number]);
    beforeAll(() => subscribe("lifeguard:pool:warning", onWarning));
    afterAll(() => {
      unsubscribe("lifeguard:pool:warning", onWarning);
    });
    afterEach(() => {
      warnings.length = 0;
    });

    it("rolls back a transaction left open, so the server connection goes back to PgBouncer", async () => {
      const via = await bouncer("transaction", { defaultPoolSize: 1 });
      const pool = lifeguard(via, "lg_open_tx", { max: 1 });
      const client = await pool.connect();
      await client.query("begin");
      await client.query("insert into bounced (owner) values ('left open')");
      client.release();

      // another instance through the same single server connection is served, and the insert is gone
      const other = lifeguard(via, "lg_open_tx_other", { max: 1 });
      expect((await other.query("select count(*)::int as n from bounced")).rows).toEqual([
        { n: 0 },
      ]);
      expect(pool.stats().connector).toMatchObject({ rollbacks: 1, resets: 0 });
      expect(await serverBackends()).toEqual([{ pid: expect.any(Number), state: "idle" }]);
      expect(await bouncerPool(via)).toMatchObject({ sv_active: 0, cl_waiting: 0 });
    });

    it("(plain pg.Pool, the same steps: the open transaction keeps the server connection)", async () => {
      const via = await bouncer("transaction", { defaultPoolSize: 1 });
      const plain = new pg.Pool({
        connectionString: via.urlFor(withApplicationName(db.url, "pg_open_tx")),
        max: 1,
      });
      pools.push(plain);
      const client = await plain.connect();
      await client.query("begin");
      await client.query("insert into bounced (owner) values ('left open')");
      client.release();
      // PgBouncer keeps the only server connection linked to the idle client, in a transaction
      expect(await serverBackends()).toEqual([
        { pid: expect.any(Number), state: "idle in transaction" },
      ]);
      expect(await bouncerPool(via)).toMatchObject({ sv_active: 1, sv_idle: 0 });
    });

    it("does not reset; session state leaks to other clients through PgBouncer, and Lifeguard warns", async () => {
      const via = await bouncer("transaction", { defaultPoolSize: 1 });
      const a = lifeguard(via, "lg_leak_a", { max: 1, name: "lg_leak_a" });
      const b = lifeguard(via, "lg_leak_b", { max: 1, name: "lg_leak_b" });
      await a.query("set statement_timeout = '4321ms'");
      await a.query("set statement_timeout = '4322ms'");
      // b is another client (another instance), on the same server connection
      expect((await b.query("show statement_timeout")).rows).toEqual([
        { statement_timeout: "4322ms" },
      ]);
      expect(a.stats().connector).toMatchObject({ resets: 0 });
      // once per kind of statement, from the pool that ran it
      expect(warnings.map((w) => [w.pool.name, w.code])).toEqual([
        ["lg_leak_a", "LIFEGUARD_PGBOUNCER_SESSION_STATE"],
      ]);
      expect(warnings[0]?.message).toMatch(/a SET statement changed the session/);
    });

    it("a pre-ping queued behind busy server connections times out: that client connection is replaced, and the query waits its turn", async () => {
      const via = await bouncer("transaction", { defaultPoolSize: 1 });
      const pool = lifeguard(via, "lg_saturated", {
        max: 1,
        prePing: { bypassWindowMillis: 0, timeoutMillis: 300 },
      });
      await pool.query("select 1");
      // another client holds PgBouncer's only server connection in a transaction
      const hog = new pg.Client({ connectionString: via.urlFor(db.url) });
      hog.on("error", () => undefined);
      await hog.connect();
      try {
        await hog.query("begin");
        await hog.query("select 1");
        const query = pool.query("select 2 as v");
        // the ping (an empty query) waits in PgBouncer's queue like any query, and times out
        await vi.waitFor(() => expect(pool.stats().counters.prePings.timeout).toBe(1), {
          timeout: 10_000,
        });
        // the query goes out on a new client connection and waits in PgBouncer's queue, not in the
        // pool (1.18 also keeps the abandoned ping queued: it does not read from waiting clients)
        await vi.waitFor(async () => {
          const state = await bouncerPool(via);
          expect(state["sv_active"]).toBe(1);
          expect(state["cl_waiting"]).toBeGreaterThanOrEqual(1);
        });
        expect(pool.stats()).toMatchObject({ total: 1, used: 1 });
        await hog.query("commit");
        expect((await query).rows).toEqual([{ v: 2 }]);
        expect(pool.stats().counters.destroys["ping-failed"]).toBe(1);
      } finally {
        await hog.end();
      }
    });

    it("runs transactions atomically under concurrency, with no errors", async () => {
      const via = await bouncer("transaction", { defaultPoolSize: 2 });
      const pool = lifeguard(via, "lg_tx_atomic", { max: 6 });
      const outcomes = await Promise.allSettled(
        Array.from({ length: 60 }, (_, i) =>
          transaction(pool, async (client) => {
            const { rows } = await client.query<{ id: number }>(
              "insert into bounced (owner) values ($1) returning id",
              [`tx${i}`],
            );
            // every statement of a transaction runs on one server backend
            const first = await backendPid(client);
            await client.query("select count(*) from bounced");
            expect(await backendPid(client)).toBe(first);
            if (i % 3 === 0) throw new RolledBack();
            return rows[0]?.id;
          }),
        ),
      );
      const errors = outcomes.filter(
        (o) => o.status === "rejected" && !(o.reason instanceof RolledBack),
      );
      expect(errors).toEqual([]);
      const { rows } = await pool.query<{ owner: string }>(
        "select owner from bounced where owner like 'tx%' order by id",
      );
      const committed = Array.from({ length: 60 }, (_, i) => i).filter((i) => i % 3 !== 0);
      expect(rows.map((r) => r.owner).sort()).toEqual(committed.map((i) => `tx${i}`).sort());
      expect(warnings).toEqual([]);
    });
  });

  describe("session mode", () => {
    it("Lifeguard resets the session; an idle client keeps its server connection, and the next client gets it clean", async () => {
      const via = await bouncer("session", { defaultPoolSize: 1 });
      const a = lifeguard(via, "lg_session_a", { max: 1 });
      const pid = await backendPid(a);
      await a.query("set statement_timeout = '4321ms'");
      expect((await a.query("show statement_timeout")).rows).toEqual([{ statement_timeout: "0" }]);
      // below 18 the lease that read pg_backend_pid() was reset too
      expect(a.stats().connector).toMatchObject({ resets: reportsSearchPath ? 1 : 2 });
      // another instance waits in PgBouncer while a's idle client holds the only server connection
      const b = lifeguard(via, "lg_session_b", { max: 1 });
      const query = b.query<{ pid: number; timeout: string }>(
        "select pg_backend_pid() as pid, current_setting('statement_timeout') as timeout",
      );
      await vi.waitFor(async () =>
        expect(await bouncerPool(via)).toMatchObject({ sv_active: 1, cl_waiting: 1 }),
      );
      await a.end();
      expect((await query).rows).toEqual([{ pid, timeout: "0" }]);
    });
  });

  describe("many Lifeguard pools (instances) sharing a small PgBouncer pool", () => {
    const instances = 8;
    const max = 5;
    const defaultPoolSize = 3;

    it(`${instances} instances × max ${max} stay within default_pool_size ${defaultPoolSize} server connections, with no errors`, async () => {
      const via = await bouncer("transaction", {
        defaultPoolSize,
        // the fleet's budget: instances × max client connections, plus room for the admin console
        maxClientConn: instances * max + 5,
      });
      const fleet = Array.from({ length: instances }, (_, i) =>
        lifeguard(via, `lg_instance_${i}`, { max, min: max }),
      );
      await Promise.all(fleet.map((pool) => pool.warmup()));
      expect(fleet.reduce((sum, pool) => sum + pool.totalCount, 0)).toBe(instances * max);

      // 1. every client at once, each in a statement blocked on a lock (advisory locks belong to a
      //    database: the holder connects to the test database directly, and is not counted)
      const lock = 424242;
      const holder = new pg.Client({ connectionString: db.url });
      holder.on("error", () => undefined);
      await holder.connect();
      const holderPid = await backendPid(holder);
      const backends = async () =>
        (await serverBackends()).filter((backend) => backend.pid !== holderPid).length;
      try {
        await holder.query("select pg_advisory_lock($1)", [lock]);
        const blocked = fleet.flatMap((pool) =>
          Array.from({ length: max }, () =>
            pool.query("select pg_advisory_xact_lock_shared($1)", [lock]),
          ),
        );
        const settled = Promise.allSettled(blocked);
        await vi.waitFor(
          async () =>
            expect(await bouncerPool(via)).toMatchObject({
              sv_active: defaultPoolSize,
              cl_active: defaultPoolSize,
              cl_waiting: instances * max - defaultPoolSize,
            }),
          { timeout: 10_000, interval: 20 },
        );
        expect(await backends()).toBe(defaultPoolSize);
        await holder.query("select pg_advisory_unlock($1)", [lock]);
        expect((await settled).filter((o) => o.status === "rejected")).toEqual([]);
      } finally {
        await holder.end();
      }

      // 2. a mixed workload from every instance, sampling the server's backends throughout
      let done = false;
      let peak = 0;
      const sampler = (async () => {
        while (!done) peak = Math.max(peak, await backends());
      })();
      const work = fleet.map(async (pool, instance) => {
        const outcomes = await Promise.allSettled(
          Array.from({ length: 40 }, (_, i) =>
            i % 4 === 0
              ? transaction(pool, async (client) => {
                  await client.query("insert into bounced (owner) values ($1)", [`i${instance}`]);
                  await client.query("select count(*) from bounced where owner = $1", [
                    `i${instance}`,
                  ]);
                })
              : pool.query("select $1::int as v", [i]).then((r) => r.rows[0]?.v),
          ),
        );
        return outcomes.filter((o) => o.status === "rejected");
      });
      const errors = (await Promise.all(work)).flat();
      done = true;
      await sampler;
      expect(errors).toEqual([]);
      expect(peak).toBeGreaterThan(0);
      expect(peak).toBeLessThanOrEqual(defaultPoolSize);
      expect((await via.admin("SHOW SERVERS")).length).toBeLessThanOrEqual(defaultPoolSize);
      const { rows } = await withClient(db.url, (admin) =>
        admin.query<{ n: number }>("select count(*)::int as n from bounced where owner like 'i%'"),
      );
      expect(rows).toEqual([{ n: instances * 10 }]);
      for (const pool of fleet)
        expect(pool.stats().connector).toMatchObject({ cleanupFailures: 0 });
    });
  });

  describe.each(["session", "transaction"] as const)("a PgBouncer restart (%s mode)", (mode) => {
    it("pre-ping retires the dead client connections: the next queries get no error", async () => {
      const via = await bouncer(mode);
      const pool = lifeguard(via, `lg_restart_${mode}`, { max: 3, min: 3 });
      await pool.warmup();
      const before = await Promise.all(
        Array.from({ length: 3 }, () => pool.query("select 1 as one")),
      );
      expect(before.map((r) => r.rows)).toEqual([[{ one: 1 }], [{ one: 1 }], [{ one: 1 }]]);
      const removed: unknown[] = [];
      pool.on("remove", (client) => removed.push(client));
      const errors: unknown[] = [];
      pool.on("error", (error) => errors.push(error));

      await via.restart(); // every client connection of the old process is closed

      const after = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => pool.query("select $1::int as v", [i])),
      );
      expect(after.filter((o) => o.status === "rejected")).toEqual([]);
      // all three connections from before the restart were found dead and replaced
      expect(removed.length).toBeGreaterThanOrEqual(3);
      expect(pool.totalCount).toBeLessThanOrEqual(3);
      // this test's own PgBouncer: its clients outside the admin console are this pool's. (Not by
      // application_name: after a reset, PgBouncer reports the server connection's default,
      // docs/pgbouncer.md)
      expect(
        (await via.admin("SHOW CLIENTS")).filter((c) => c["database"] !== "pgbouncer").length,
      ).toBeGreaterThan(0);
      // the idle connections' errors were counted, never thrown at the application
      expect(pool.stats().connector["idleErrors"]).toBe(errors.length);
    });

    it("while PgBouncer is down, queries fail fast; once it is back they succeed", async () => {
      const via = await bouncer(mode);
      const pool = lifeguard(via, `lg_down_${mode}`, { max: 2 });
      pool.on("error", () => undefined);
      expect((await pool.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
      await via.stop();
      // the idle connection's socket closed with PgBouncer: the pool sees it, counts it
      await vi.waitFor(() => expect(pool.stats().connector["idleErrors"]).toBe(1));
      // no connection can be made and none is idle: the acquire fails at once, not at its deadline
      const failed = await pool.query("select 1").catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(Error);
      expect(chainText(failed)).toMatch(/LIFEGUARD_DB_UNAVAILABLE[\s\S]*ECONNREFUSED/);
      await via.start();
      await vi.waitFor(
        async () => expect((await pool.query("select 2 as two")).rows).toEqual([{ two: 2 }]),
        { timeout: 15_000, interval: 20 },
      );
    });
  });

  describe(`named statements on the installed PgBouncer (Debian 12: 1.18, no max_prepared_statements)`, () => {
    const lookup = (v: number) => ({ name: "lg_lookup", text: "select $1::int as v", values: [v] });

    it("transaction mode without namedStatements: false, a second client's Parse of the same name fails: 42P05", async () => {
      const via = await bouncer("transaction", { defaultPoolSize: 1 });
      const a = lifeguard(via, "lg_named_a", { max: 1 });
      const b = lifeguard(via, "lg_named_b", { max: 1 });
      expect((await a.query(lookup(1))).rows).toEqual([{ v: 1 }]);
      // b has never parsed lg_lookup, but the one server connection has: a's statement is there
      const outcome = await b.query(lookup(2)).catch((error: unknown) => error);
      expect(outcome).toMatchObject({
        code: "42P05",
        message: 'prepared statement "lg_lookup" already exists',
      });
    });

    it("transaction mode without namedStatements: false, a client's next execution lands on another server connection: 26000", async () => {
      const via = await bouncer("transaction", { defaultPoolSize: 2 });
      const pool = lifeguard(via, "lg_named_moves", { max: 2 });
      const a = await pool.connect();
      const b = await pool.connect();
      try {
        expect((await a.query(lookup(1))).rows).toEqual([{ v: 1 }]);
        // b's transaction takes the server connection a just used (PgBouncer reuses the latest)
        await b.query("begin");
        await b.query("select 1");
        // pg believes lg_lookup is parsed on a's connection and sends only Bind/Execute
        const outcome = await a.query(lookup(2)).catch((error: unknown) => error);
        expect(outcome).toMatchObject({
          code: "26000",
          message: 'prepared statement "lg_lookup" does not exist',
        });
        await b.query("commit");
      } finally {
        a.release();
        b.release();
      }
    });

    it("transaction mode with namedStatements: false, the same steps work: same results, nothing prepared", async () => {
      const via = await bouncer("transaction", { defaultPoolSize: 2 });
      const pool = lifeguard(via, "lg_unnamed", { max: 2, namedStatements: false });
      const other = lifeguard(via, "lg_unnamed_other", { max: 1, namedStatements: false });
      expect((await pool.query(lookup(1))).rows).toEqual([{ v: 1 }]);
      expect((await other.query(lookup(2))).rows).toEqual([{ v: 2 }]);
      const a = await pool.connect();
      const b = await pool.connect();
      try {
        expect((await a.query(lookup(3))).rows).toEqual([{ v: 3 }]);
        await b.query("begin");
        await b.query("select 1");
        expect((await a.query(lookup(4))).rows).toEqual([{ v: 4 }]);
        // both server connections, each inside its own transaction: neither holds a statement
        await a.query("begin");
        const prepared = await Promise.all(
          [a, b].map(async (client) => ({
            pid: await backendPid(client),
            statements: (await client.query("select name from pg_prepared_statements")).rows,
          })),
        );
        expect(prepared[0]?.pid).not.toBe(prepared[1]?.pid);
        expect(prepared.map((p) => p.statements)).toEqual([[], []]);
        await a.query("commit");
        await b.query("commit");
      } finally {
        a.release();
        b.release();
      }
    });

    it("session mode: named statements work for every client, and across Lifeguard's resets", async () => {
      const via = await bouncer("session", { defaultPoolSize: 2 });
      const a = lifeguard(via, "lg_session_named_a", { max: 1 });
      const b = lifeguard(via, "lg_session_named_b", { max: 1 });
      for (let i = 0; i < 3; i++) {
        expect((await a.query(lookup(i))).rows).toEqual([{ v: i }]);
        expect((await b.query(lookup(i + 10))).rows).toEqual([{ v: i + 10 }]);
        await a.query("set work_mem = '8MB'"); // dirty: Lifeguard resets a's session (DISCARD ALL)
      }
      expect((await a.query(lookup(7))).rows).toEqual([{ v: 7 }]); // after the last release's reset
      // below 18 each lookup's lease is reset as well
      expect(a.stats().connector).toMatchObject({ resets: reportsSearchPath ? 3 : 6 });
      // b's server session holds its statement: it was prepared, not sent unnamed (checked in
      // the lease that ran it: below 18 the reset after each lease deallocates it)
      const held = await b.connect();
      try {
        expect((await held.query(lookup(20))).rows).toEqual([{ v: 20 }]);
        expect(
          (await held.query("select name from pg_prepared_statements")).rows.map((r) => r.name),
        ).toEqual(["lg_lookup"]);
      } finally {
        held.release();
      }
    });
  });
});

// --- helpers ----------------------------------------------------------------------------------------

class RolledBack extends Error {}

function withApplicationName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set("application_name", name);
  return parsed.toString();
}

async function backendPid(client: { query: pg.ClientBase["query"] }): Promise<number> {
  const { rows } = await client.query<{ pid: number }>("select pg_backend_pid() as pid");
  return rows[0]?.pid as number;
}

/** BEGIN ... COMMIT on one client; ROLLBACK and rethrow when `fn` throws. */
async function transaction<T>(
  pool: Pool,
  fn: (client: LifeguardPoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    const result = await fn(client);
    await client.query("commit");
    return result;
  } catch (error) {
    await client.query("rollback").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

function chainText(error: unknown): string {
  const parts: string[] = [];
  let current = error as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
  while (current && parts.length < 10) {
    parts.push(`${String(current.code)} ${String(current.message)}`);
    current = current.cause as typeof current;
  }
  return parts.join("\n");
}

/** The pg drop-in as the conformance suite drives it: `pool.query`, BEGIN/SAVEPOINT, named queries. */
function pgSubject(
  pool: Pool,
  expectations: ConformanceExpectations,
  clock: ManualClock | undefined,
): ConformanceSubject {
  let savepoints = 0;
  const onClient = (client: LifeguardPoolClient): ConformanceQueryable => ({
    async query(text, params) {
      return (await client.query(text, params as unknown[])).rows;
    },
    async transaction(fn) {
      const savepoint = `lg_sp_${++savepoints}`;
      await client.query(`savepoint ${savepoint}`);
      try {
        const result = await fn(onClient(client));
        await client.query(`release savepoint ${savepoint}`);
        return result;
      } catch (error) {
        await client.query(`rollback to savepoint ${savepoint}`);
        throw error;
      }
    },
  });
  return {
    async query(text, params) {
      return (await pool.query(text, params as unknown[])).rows;
    },
    transaction: (fn) => transaction(pool, (client) => fn(onClient(client))),
    prepared(name) {
      return async (id) =>
        (
          await pool.query<ConformanceItem>({
            name,
            text: `select id, label from ${conformanceTable} where id = $1`,
            values: [id],
          })
        ).rows;
    },
    close: () => pool.end(),
    ...(clock === undefined ? {} : { advanceTime: (millis: number) => clock.advance(millis) }),
    expectations,
  };
}
