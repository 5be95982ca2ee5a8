import { InvalidOptionError } from "@lifeguard/core";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { classifyStatement, Pool } from "../src/index.js";

// PgBouncer's own behaviour is tested through a real PgBouncer in pgbouncer.test.ts; these tests
// check what Lifeguard itself does in each mode, talking to the server directly.
const db = useTestDatabase();
let pool: Pool | undefined;
afterEach(async () => {
  await pool?.end();
  pool = undefined;
  vi.restoreAllMocks();
});

describe("pgbouncer: 'transaction'", () => {
  it("leaves the reset to PgBouncer but still rolls back open transactions", async () => {
    vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    pool = new Pool({ connectionString: db.url, max: 1, pgbouncer: "transaction" });
    const a = await pool.connect();
    await a.query("set work_mem = '16MB'");
    await a.query("begin");
    a.release();
    const b = await pool.connect();
    expect(b.getTransactionStatus()).toBe("I");
    // no reset was sent: against a plain server the SET is still there (PgBouncer would reset it)
    expect((await b.query("select current_setting('work_mem') as v")).rows[0].v).toBe("16MB");
    b.release();
    expect(pool.stats().connector).toMatchObject({ resets: 0, rollbacks: 1 });
  });

  it("warns once per kind of session state", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    pool = new Pool({ connectionString: db.url, max: 1, pgbouncer: "transaction" });
    await pool.query("set work_mem = '8MB'");
    await pool.query("set work_mem = '9MB'");
    await pool.query("listen lg_events");
    await pool.query("select pg_advisory_lock(7)");
    await pool.query("select pg_advisory_unlock(7)");
    const kinds = warn.mock.calls
      .filter((call) => JSON.stringify(call).includes("LIFEGUARD_PGBOUNCER_SESSION_STATE"))
      .map((call) => /a (.+?) statement/.exec(String(call[0]))?.[1]);
    expect(kinds).toEqual(["SET", "LISTEN", "advisory lock"]);
  });

  it("refuses reset 'always', which would reset connections other clients share", () => {
    expect(() => new Pool({ pgbouncer: "transaction", reset: "always" })).toThrow(
      InvalidOptionError,
    );
    expect(() => new Pool({ pgbouncer: "transaction", reset: "always" })).toThrow(/conflict/);
    expect(() => new Pool({ pgbouncer: "yes" as never })).toThrow(
      /expected false, "session" or "transaction"/,
    );
  });
});

describe("pgbouncer: 'session'", () => {
  it("resets like a direct connection", async () => {
    pool = new Pool({ connectionString: db.url, max: 1, pgbouncer: "session" });
    await pool.query("set work_mem = '16MB'");
    expect((await pool.query("select current_setting('work_mem') as v")).rows[0].v).toBe("4MB");
  });
});

describe("namedStatements: false", () => {
  it("sends named queries unnamed: same results, nothing prepared on the server", async () => {
    pool = new Pool({ connectionString: db.url, max: 1, namedStatements: false });
    const client = await pool.connect();
    for (let i = 0; i < 3; i++) {
      await expect(
        client.query({ name: "lg_named", text: "select $1::int as v", values: [i] }),
      ).resolves.toMatchObject({ rows: [{ v: i }] });
    }
    const { rows } = await client.query("select count(*)::int as n from pg_prepared_statements");
    expect(rows[0].n).toBe(0);
    client.release();
  });

  it("by default named queries are prepared on the server", async () => {
    pool = new Pool({ connectionString: db.url, max: 1 });
    const client = await pool.connect();
    await client.query({ name: "lg_named", text: "select 1 as v" });
    const { rows } = await client.query("select count(*)::int as n from pg_prepared_statements");
    expect(rows[0].n).toBe(1);
    client.release();
  });
});

describe("statement kinds", () => {
  it.each([
    ["set search_path = x", "SET"],
    ["create temp table t (v int)", "temp table"],
    ["select set_config('a.b', '1', false)", "set_config"],
    ["select pg_try_advisory_lock(1)", "advisory lock"],
    ["listen x", "LISTEN"],
    ["select 1; reset all", "RESET"],
    ["select 1", undefined],
  ])("%s → %s", (text, kind) => {
    expect(classifyStatement(text).kind).toBe(kind);
  });
});

describe("transaction-scoped statements are not session state", () => {
  it.each([
    "set local work_mem = '8MB'",
    "set transaction isolation level serializable",
    "set constraints all deferred",
    "select set_config('app.tenant', '42', true)",
    "select set_config('app.tenant', $1, true)",
    "create temp table t (v int) on commit drop",
    "select pg_advisory_xact_lock(1)",
  ])("%s is clean", (text) => {
    expect(classifyStatement(text)).toMatchObject({ dirty: false, kind: undefined });
  });

  it.each([
    ["set session characteristics as transaction read only", "SET"],
    ["select set_config('app.tenant', '42', false)", "set_config"],
    ["select set_config('a', '1', true), set_config('b', '2', false)", "set_config"],
    ["create temp table t (v int)", "temp table"],
  ])("%s still counts", (text, kind) => {
    expect(classifyStatement(text)).toMatchObject({ dirty: true, kind });
  });

  it("does not warn or reset for SET LOCAL in transaction mode", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    pool = new Pool({ connectionString: db.url, max: 1, pgbouncer: "transaction" });
    const client = await pool.connect();
    await client.query("begin");
    await client.query("set local work_mem = '8MB'");
    await client.query("select set_config('app.tenant', '1', true)");
    await client.query("commit");
    client.release();
    expect(warn.mock.calls.filter((c) => JSON.stringify(c).includes("PGBOUNCER"))).toHaveLength(0);
  });
});

describe("set-up statements behind PgBouncer in transaction mode", () => {
  it("warn too: they land on a server connection other clients share", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    pool = new Pool({
      connectionString: db.url,
      max: 1,
      pgbouncer: "transaction",
      onConnect: async (client) => {
        await client.query("set search_path = public");
      },
    });
    await pool.query("select 1");
    const kinds = warn.mock.calls
      .filter((call) => JSON.stringify(call).includes("LIFEGUARD_PGBOUNCER_SESSION_STATE"))
      .map((call) => /a (.+?) statement/.exec(String(call[0]))?.[1]);
    expect(kinds).toEqual(["SET"]);
  });
});

describe("budget behind PgBouncer", () => {
  it("is refused: the limit there is PgBouncer's max_client_conn, which a client cannot read", () => {
    expect(() => new Pool({ pgbouncer: "transaction", budget: { instances: 2 } })).toThrow(
      /max_client_conn/,
    );
  });
});

describe("namedStatements: false with a query object", () => {
  it("keeps the object's class (its events still fire) and sends it unnamed", async () => {
    pool = new Pool({ connectionString: db.url, max: 1, namedStatements: false });
    const client = await pool.connect();
    const query = new pg.Query({ name: "lg_obj", text: "select 5 as v" });
    const rows: unknown[] = [];
    query.on("row", (row: unknown) => rows.push(row));
    const ended = new Promise((resolve) => query.on("end", resolve));
    client.query(query);
    await ended;
    expect(rows).toEqual([{ v: 5 }]);
    expect(
      (await client.query("select count(*)::int as n from pg_prepared_statements")).rows[0].n,
    ).toBe(0);
    client.release();
  });
});
