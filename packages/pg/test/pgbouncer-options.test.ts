import { InvalidOptionError } from "@lifeguard/core";
import { useTestDatabase } from "@lifeguard/test-fixtures";
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
