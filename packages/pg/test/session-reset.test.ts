import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, inject, it } from "vitest";
import { Pool } from "../src/index.js";
import { pidOf } from "./helpers.js";

const db = useTestDatabase();
/** PostgreSQL 18 reports search_path changes (ParameterStatus); 14 to 17 do not. */
const reportsSearchPath = inject("pgMajor") >= 18;
let pool: Pool | undefined;
afterEach(async () => {
  await pool?.end();
  pool = undefined;
});

/** One connection, so the next borrower is certain to get the same backend. */
function onePool(reset: "auto" | "always" | "never", pipeline = false): Pool {
  pool = new Pool({ connectionString: db.url, max: 1, reset, pipeline });
  return pool;
}

// pipeline: pg's pipeline mode, where the clean-up is written without waiting (the next borrower's
// statements follow it on the wire): the next borrower must see the same clean session
describe.each([
  ["auto", false],
  ["always", false],
  ["auto", true],
  ["always", true],
] as const)("reset %s, pipeline %s", (reset, pipeline) => {
  it("rolls back an open transaction before the next borrower", async () => {
    const p = onePool(reset, pipeline);
    await p.query("create table if not exists t_open (v int)");
    const a = await p.connect();
    const pid = await pidOf(a);
    await a.query("begin");
    await a.query("insert into t_open values (1)");
    a.release();
    const b = await p.connect();
    expect(await pidOf(b)).toBe(pid);
    const { rows } = await b.query("select count(*)::int as n from t_open");
    expect(rows[0].n).toBe(0);
    expect(b.getTransactionStatus()).toBe("I");
    b.release();
    expect(p.stats().connector["rollbacks"]).toBe(1);
  });

  it("rolls back a failed transaction before the next borrower", async () => {
    const p = onePool(reset, pipeline);
    const a = await p.connect();
    await a.query("begin");
    await expect(a.query("select 1/0")).rejects.toThrow(/division by zero/);
    a.release();
    const b = await p.connect();
    await expect(b.query("select 1 as one")).resolves.toMatchObject({ rows: [{ one: 1 }] });
    b.release();
  });

  const leaks: [string, string, string, (row: Record<string, unknown>) => void][] = [
    [
      "SET",
      "set statement_timeout = 1234",
      "select current_setting('statement_timeout') as v",
      (r) => expect(r["v"]).toBe("0"),
    ],
    [
      "SET ROLE",
      "create role lg_reader; set role lg_reader",
      "select current_user as v",
      (r) => expect(r["v"]).toBe("postgres"),
    ],
    [
      "set_config(..., false)",
      "select set_config('app.tenant', '42', false)",
      "select current_setting('app.tenant', true) as v",
      (r) => expect(r["v"] ?? "").toBe(""),
    ],
    [
      "temp table",
      "create temp table tmp_leak (v int)",
      "select to_regclass('pg_temp.tmp_leak')::text as v",
      (r) => expect(r["v"]).toBeNull(),
    ],
    [
      "LISTEN",
      "listen lg_channel",
      "select count(*)::int as v from pg_listening_channels()",
      (r) => expect(r["v"]).toBe(0),
    ],
    [
      "advisory lock",
      "select pg_advisory_lock(4242)",
      "select count(*)::int as v from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()",
      (r) => expect(r["v"]).toBe(0),
    ],
    [
      "PREPARE",
      "prepare lg_stmt as select 1",
      "select count(*)::int as v from pg_prepared_statements",
      (r) => expect(r["v"]).toBe(0),
    ],
  ];

  it.each(leaks)("%s is gone for the next borrower", async (_name, leak, probe, check) => {
    const p = onePool(reset, pipeline);
    const a = await p.connect();
    const pid = await pidOf(a);
    await a.query(leak);
    a.release();
    const b = await p.connect();
    expect(await pidOf(b)).toBe(pid);
    const { rows } = await b.query(probe);
    check(rows[0]);
    b.release();
    await p.query("drop role if exists lg_reader");
  });
});

describe("reset auto", () => {
  it(`${reportsSearchPath ? "does not reset" : "resets (PostgreSQL < 18)"} a lease that only ran plain DML`, async () => {
    const p = onePool("auto");
    await p.query("create table if not exists t_plain (v int)"); // DDL: counts as dirty
    await p.query("show search_path"); // its borrow waits for that reset to finish
    const before = p.stats().connector["resets"] ?? 0;
    expect(before).toBe(1);
    for (let i = 0; i < 5; i++) await p.query("insert into t_plain values ($1)", [i]);
    await p.query("select * from t_plain");
    await p.query("show search_path"); // runs no user code: never reset
    // a trigger or function may change search_path unseen where the server does not report it
    expect(p.stats().connector["resets"]).toBe(reportsSearchPath ? before : before + 6);
  });

  it("resets when the server reports a changed setting (ParameterStatus)", async () => {
    const p = onePool("auto");
    // a function changing a reported setting: the statement text alone looks clean
    await p.query(
      "create or replace function lg_set_tz() returns int language plpgsql as $$ begin perform set_config('TimeZone', 'Asia/Tokyo', false); return 1; end $$",
    );
    const before = p.stats().connector["resets"] ?? 0;
    await p.query("select lg_set_tz()");
    expect(p.stats().connector["resets"]).toBe(before + 1);
    const { rows } = await p.query("select current_setting('TimeZone') as tz");
    expect(rows[0].tz).not.toBe("Asia/Tokyo");
  });
});

// SQL that fooled the text classifier before it read statements with a PostgreSQL-faithful lexer
describe("reset auto is not fooled by ordinary SQL", () => {
  const fooled: [string, string, string, (row: Record<string, unknown>) => void][] = [
    [
      "an E'' string with an escaped quote hides a following SET",
      "select E'\\'' as quote; set statement_timeout = 1234",
      "select current_setting('statement_timeout') as v",
      (r) => expect(r["v"]).toBe("0"),
    ],
    [
      'a quoted function name, "pg_advisory_lock"(1)',
      'select "pg_advisory_lock"(4343)',
      "select count(*)::int as v from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()",
      (r) => expect(r["v"]).toBe(0),
    ],
    [
      "a string literal saying 'on commit drop' in a temp table",
      "create temp table tmp_fooled (note text default 'on commit drop')",
      "select to_regclass('pg_temp.tmp_fooled')::text as v",
      (r) => expect(r["v"]).toBeNull(),
    ],
    [
      "an identifier with $ (a$b$) taken for a dollar quote",
      "select 1 as a$b$; set statement_timeout = 1234; select 2 as c$b$",
      "select current_setting('statement_timeout') as v",
      (r) => expect(r["v"]).toBe("0"),
    ],
  ];

  it("a string read as the session reads it, with standard_conforming_strings off", async () => {
    // on: one string; off (this session): 'x\'' ends at the second quote and the SET runs
    const text = "select 'x\\'';set work_mem = 8192;select '\\''";
    pool = new Pool({
      connectionString: db.url,
      max: 1,
      reset: "auto",
      onConnect: async (client) => {
        await client.query("set standard_conforming_strings = off");
        await client.query("set escape_string_warning = off");
      },
    });
    await pool.query(text);
    const { rows } = await pool.query(
      "select current_setting('work_mem') as w, current_setting('standard_conforming_strings') as scs",
    );
    expect(rows[0]).toEqual({ w: "4MB", scs: "off" });
  });

  it.each(fooled)("%s: gone for the next borrower", async (_name, leak, probe, check) => {
    const p = onePool("auto");
    const a = await p.connect();
    const pid = await pidOf(a);
    await a.query(leak);
    a.release();
    const b = await p.connect();
    expect(await pidOf(b)).toBe(pid);
    const { rows } = await b.query(probe);
    check(rows[0]);
    b.release();
  });
});

// issue 14: search_path is reported by ParameterStatus only from PostgreSQL 18, so on 14-17 a
// function's set_config('search_path', ...) used to reach the next borrower (another tenant's rows)
describe("search_path changed inside a function, on every major", () => {
  const setPath =
    "create or replace function lg_set_path(p text) returns int language plpgsql as $$ begin perform set_config('search_path', p, false); return 1; end $$";

  it(`the server ${reportsSearchPath ? "reports" : "does not report"} search_path (PostgreSQL ${inject("pgMajor")}), to plain pg too`, async () => {
    const client = new pg.Client({ connectionString: db.url });
    const reported: string[] = [];
    (client as unknown as { connection: NodeJS.EventEmitter }).connection.on(
      "parameterStatus",
      (m: { parameterName: string }) => reported.push(m.parameterName),
    );
    await client.connect();
    await client.end();
    expect(reported).toContain("TimeZone");
    expect(reported.includes("search_path")).toBe(reportsSearchPath);
  });

  it("does not reach the next borrower under 'auto'", async () => {
    const p = onePool("auto");
    await p.query("create schema if not exists lg_tenant_a");
    await p.query(setPath);
    const { rows: before } = await p.query("select current_setting('search_path') as v");
    const a = await p.connect();
    await a.query("select lg_set_path('lg_tenant_a')");
    expect((await a.query("select current_setting('search_path') as v")).rows[0].v).toBe(
      "lg_tenant_a",
    );
    a.release();
    const { rows } = await p.query("select current_setting('search_path') as v");
    expect(rows[0].v).toBe(before[0].v);
  });

  it("a select of bare literals (a health check) never resets, on every major", async () => {
    const p = onePool("auto");
    await p.query("select 1");
    await p.query("select 'ok' as status");
    await p.query("show search_path");
    expect(p.stats().connector["resets"] ?? 0).toBe(0);
  });

  it(`${reportsSearchPath ? "is seen by its ParameterStatus" : "is assumed after any statement that may run user code"}`, async () => {
    const p = onePool("auto");
    await p.query(setPath);
    await p.query("show search_path"); // waits for the DDL lease's reset
    const before = p.stats().connector["resets"] ?? 0;
    await p.query("select count(*) from pg_class"); // may run user code (here it does not)
    await p.query("show search_path"); // runs none, and waits for any reset
    expect(p.stats().connector["resets"]).toBe(reportsSearchPath ? before : before + 1);
    await p.query("select lg_set_path('pg_catalog')");
    await p.query("show search_path");
    expect(p.stats().connector["resets"]).toBe(reportsSearchPath ? before + 1 : before + 2);
  });
});

describe("what 'auto' cannot see: session state changed inside a function", () => {
  const setTenant =
    "create or replace function lg_set_tenant(t text) returns int language plpgsql as $$ begin perform set_config('app.tenant', t, false); return 1; end $$";

  it(`${reportsSearchPath ? "leaks" : "does not leak (PostgreSQL < 18)"} under 'auto' (documented in docs/pg.md)`, async () => {
    const p = onePool("auto");
    await p.query(setTenant);
    await p.query("select 1"); // wait for the DDL lease's reset
    await p.query("select lg_set_tenant('42')");
    const { rows } = await p.query("select current_setting('app.tenant', true) as v");
    // below 18, 'auto' resets after every lease that may have run a function (search_path)
    expect(rows[0].v ?? "").toBe(reportsSearchPath ? "42" : "");
  });

  it("is reset under 'always', the recommended mode for tenants set that way", async () => {
    const p = onePool("always");
    await p.query(setTenant);
    await p.query("select lg_set_tenant('42')");
    const { rows } = await p.query("select current_setting('app.tenant', true) as v");
    expect(rows[0].v ?? "").toBe("");
  });
});

describe("reset never", () => {
  it("keeps session state (the documented trade-off)", async () => {
    const p = onePool("never");
    await p.query("set application_name = 'kept'");
    const { rows } = await p.query("select current_setting('application_name') as v");
    expect(rows[0].v).toBe("kept");
  });
});

describe("pipelined reset", () => {
  it("in pipeline mode the client is back at once, the reset riding ahead of the next borrower", async () => {
    const p = onePool("always", true);
    const a = await p.connect();
    await a.query("set work_mem = '16MB'");
    a.release();
    expect(p.stats()).toMatchObject({ idle: 1, releasing: 0 });
    const { rows } = await p.query("select current_setting('work_mem') as v");
    expect(rows[0].v).toBe("4MB");
    // the first reset answered before that query did; the one after it is still on the wire
    expect(p.stats().connector["resets"]).toBe(1);
  });

  it("without pipeline mode the reset is queued ahead on the client, which is back at once", async () => {
    const p = onePool("always", false);
    const a = await p.connect();
    await a.query("set work_mem = '16MB'");
    a.release();
    expect(p.stats()).toMatchObject({ idle: 1, releasing: 0 });
    const { rows } = await p.query("select current_setting('work_mem') as v");
    expect(rows[0].v).toBe("4MB");
  });

  it("a client released with a statement still running waits in 'releasing' until it is clean", async () => {
    const p = onePool("always", false);
    const a = await p.connect();
    const running = a.query("select pg_sleep(0.05)");
    a.release();
    expect(p.stats()).toMatchObject({ idle: 0, releasing: 1 });
    await running;
    const { rows } = await p.query("select 1 as one");
    expect(rows[0].one).toBe(1);
  });

  it("an open transaction is rolled back before the client is lent again, so pg reports it idle", async () => {
    const p = onePool("always", false);
    const a = await p.connect();
    await a.query("begin");
    a.release();
    expect(p.stats()).toMatchObject({ releasing: 1 });
    const b = await p.connect();
    expect(b.getTransactionStatus()).toBe("I");
    b.release();
  });

  it("a server setting changed by our own reset is not taken for the next borrower's", async () => {
    const p = onePool("auto", true);
    await p.query("set application_name = 'dirty'"); // reported setting: the reset reports it back
    await p.query("show work_mem"); // rides behind the reset; its lease must stay clean
    await p.query("show work_mem");
    expect(p.stats().connector["resets"]).toBe(1);
  });
});
