/**
 * pipelineQueries (docs/pipelining.md) on a real server: which queries share a busy connection,
 * that each keeps its own result and error, what a connection lost mid-pipeline does, and that the
 * connection goes back to the pool (reset, next borrower) only once its last query finished.
 * Whether a query went onto a busy connection is read from pg's own queue of queries on the wire.
 */
import { AcquireTimeoutError, InvalidOptionError, ManualClock } from "@lifeguard/core";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type LifeguardPoolClient, lifeguardConfigFromEnv, Pool } from "../src/index.js";
import { pipelineEligibility } from "../src/pipeline-eligibility.js";
import { terminate } from "./helpers.js";

const db = useTestDatabase();
const pools: { end(): Promise<void> }[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.end().catch(() => undefined);
});

function pipelined(
  config: ConstructorParameters<typeof Pool>[0] = {},
  pipeline: { depth?: number; headOfLineMillis?: number } = { headOfLineMillis: 60_000 },
): Pool {
  const pool = new Pool({ connectionString: db.url, max: 1, pipelineQueries: pipeline, ...config });
  pools.push(pool);
  return pool;
}

type Internals = { _sentQueryQueue: unknown[]; pipeline: boolean };

/** The pool's one client, seen from outside (a released handle still reads fields). */
async function onlyClient(pool: Pool): Promise<Internals & LifeguardPoolClient> {
  const client = await pool.connect();
  client.release();
  return client as unknown as Internals & LifeguardPoolClient;
}

/** Queries written behind the one running now. */
function onTheWire(client: Internals): number {
  return client._sentQueryQueue.length;
}

describe("which queries are pipelined", () => {
  it.each([
    ["select 1", "clean"],
    ["SELECT 'ok' AS status, 2", "clean"],
    ["select now()", "userCode"],
    ["insert into t values (1)", "userCode"],
    ["with x as (select 1) select * from x", "userCode"],
    ["begin", "never"],
    ["commit", "never"],
    ["set statement_timeout = 1000", "never"],
    ["select set_config('a.b', '1', false)", "never"],
    ["create temp table x (a int)", "never"],
    ["listen chan", "never"],
    ["copy t from stdin", "never"],
    ["lock table t", "never"],
    ["call p()", "never"],
    ["fetch 10 from c", "never"],
    ["select 1; begin", "never"],
    ["select 'unterminated", "never"],
    ["", "never"],
  ])("%j is %s", (text, expected) => {
    expect(pipelineEligibility(text)).toBe(expected);
  });

  it("refuses query forms that keep the connection (rows, query_timeout, Submittables)", () => {
    expect(pipelineEligibility({ text: "select 1", rows: 10 })).toBe("never");
    expect(pipelineEligibility({ text: "select 1", query_timeout: 100 })).toBe("never");
    expect(pipelineEligibility({ text: "select 1", submit: () => undefined })).toBe("never");
    expect(pipelineEligibility({ text: "select 1", name: "n" })).toBe("clean");
  });

  it("writes a clean query onto the busy connection, up to depth", async () => {
    const pool = pipelined({}, { depth: 3, headOfLineMillis: 60_000 });
    const client = await onlyClient(pool);
    const results = [
      pool.query("select pg_sleep(0.2), 1 as n"),
      pool.query("select 2 as n"),
      pool.query("select 3 as n"),
      pool.query("select 4 as n"),
    ];
    // the first runs, two are written behind it, the fourth waits for room (depth 3)
    await vi.waitFor(() => expect(onTheWire(client)).toBe(2));
    expect(client.pipeline).toBe(true);
    const rows = (await Promise.all(results)).map((r) => r.rows[0].n);
    expect(rows).toEqual([1, 2, 3, 4]);
    // quiet again: pg's ordinary mode, for pool.connect() borrowers (cursors, rows)
    expect(client.pipeline).toBe(false);
  });

  it("never pipelines transactions, session statements, checked-out clients or callbacks", async () => {
    const pool = pipelined();
    const client = await onlyClient(pool);
    const running = pool.query("select pg_sleep(0.2)");
    await vi.waitFor(() => expect(client.pipeline).toBe(false));
    const set = pool.query("set application_name = 'x'");
    const begin = pool.query("begin");
    const viaCallback = new Promise((resolve, reject) =>
      pool.query("select 1", (error, result) => (error ? reject(error) : resolve(result))),
    );
    const checkout = pool.connect();
    await new Promise((resolve) => setImmediate(resolve));
    expect(onTheWire(client)).toBe(0);
    await running;
    await Promise.all([set, begin, viaCallback]);
    const checkedOut = await checkout;
    // a checked-out client keeps pg's ordinary mode: pipelined queries do not join it
    const joined = pool.query("select 5 as n");
    await new Promise((resolve) => setImmediate(resolve));
    expect(onTheWire(client)).toBe(0);
    checkedOut.release();
    expect((await joined).rows).toEqual([{ n: 5 }]);
    // the 'begin' was rolled back before the next borrower, as without pipelining
    expect(pool.stats().connector["rollbacks"]).toBeGreaterThanOrEqual(1);
  });

  it("does not queue behind a query that has run for headOfLineMillis", async () => {
    const clock = new ManualClock();
    const pool = pipelined({ clock }, { depth: 8, headOfLineMillis: 50 });
    const client = await onlyClient(pool);
    const long = pool.query("select pg_sleep(0.3), 1 as n");
    const joined = pool.query("select 2 as n");
    await vi.waitFor(() => expect(onTheWire(client)).toBe(1));
    await clock.advance(100);
    const held = pool.query("select 3 as n");
    await new Promise((resolve) => setImmediate(resolve));
    // the head has run 100 ms by the pool's clock: the third waits for a connection instead
    expect(onTheWire(client)).toBe(1);
    const results = await Promise.all([long, joined, held]);
    expect(results.map((r) => r.rows[0].n)).toEqual([1, 2, 3]);
  });
});

describe("a lease held under a steady load", () => {
  it("takes no more queries after a second: it drains and goes back to the pool (lifetime, evict, leak watch)", async () => {
    const clock = new ManualClock();
    const pool = pipelined({ clock }, { depth: 8, headOfLineMillis: 60_000 });
    const client = await onlyClient(pool);
    const acquiresBefore = pool.stats().counters.acquires;
    const long = pool.query("select pg_sleep(0.3), 1 as n");
    const joined = pool.query("select 2 as n");
    await vi.waitFor(() => expect(onTheWire(client)).toBe(1));
    await clock.advance(1000);
    const later = pool.query("select 3 as n");
    await new Promise((resolve) => setImmediate(resolve));
    expect(onTheWire(client)).toBe(1);
    const results = await Promise.all([long, joined, later]);
    expect(results.map((r) => r.rows[0].n)).toEqual([1, 2, 3]);
    // the third ran on a second lease of the same connection
    expect(pool.stats().counters.acquires).toBe(acquiresBefore + 2);
  });
});

describe("a query that cannot be placed", () => {
  it("fails with the pool's acquire timeout, as without pipelining, when no connection comes back", async () => {
    const clock = new ManualClock();
    const pool = pipelined(
      { clock, acquireTimeoutMillis: 1000 },
      { depth: 8, headOfLineMillis: 0 },
    );
    await onlyClient(pool);
    const long = pool.query("select pg_sleep(0.3), 1 as n");
    // headOfLineMillis 0: nothing joins a busy connection, so this one waits for a connection
    const waiting = pool.query("select 2 as n");
    const failed = expect(waiting).rejects.toThrow(AcquireTimeoutError);
    await new Promise((resolve) => setImmediate(resolve));
    await clock.advance(1000);
    await failed;
    await expect(long).resolves.toMatchObject({ rows: [{ n: 1 }] });
    await expect(pool.query("select 3 as n")).resolves.toMatchObject({ rows: [{ n: 3 }] });
  });
});

describe("each pipelined query keeps its own result", () => {
  it("an error mid-pipeline stays with its own query", async () => {
    const pool = pipelined();
    const client = await onlyClient(pool);
    const results = await Promise.allSettled([
      pool.query("select pg_sleep(0.1), 1 as n"),
      pool.query("select 1/0 as n"),
      pool.query("select $1::int as n", [3]),
      pool.query("select * from no_such_table"),
      pool.query("select 5 as n"),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      "fulfilled",
      "rejected",
      "fulfilled",
      "rejected",
      "fulfilled",
    ]);
    expect((results[1] as PromiseRejectedResult).reason.code).toBe("22012");
    expect((results[3] as PromiseRejectedResult).reason.code).toBe("42P01");
    expect((results[2] as PromiseFulfilledResult<pg.QueryResult>).value.rows).toEqual([{ n: 3 }]);
    expect((results[4] as PromiseFulfilledResult<pg.QueryResult>).value.rows).toEqual([{ n: 5 }]);
    // a statement's error keeps the connection
    expect(pool.stats().counters.destroys.broken).toBe(0);
    expect(client.pipeline).toBe(false);
    await expect(pool.query("select 6 as n")).resolves.toMatchObject({ rows: [{ n: 6 }] });
  });

  it("named statements, parameter types, rowMode array and a types override", async () => {
    const pool = pipelined();
    await onlyClient(pool);
    const types = {
      getTypeParser: (oid: number, format?: string) =>
        oid === 23 ? (v: string) => `int:${v}` : pg.types.getTypeParser(oid, format as "text"),
    };
    const [slow, named1, named2, typed, array, overridden] = await Promise.all([
      pool.query("select pg_sleep(0.1)"),
      pool.query({ name: "pipelined_named", text: "select $1::int + 1 as n", values: [1] }),
      pool.query({ name: "pipelined_named", text: "select $1::int + 1 as n", values: [41] }),
      pool.query("select $1::numeric as x, $2::bool as b, $3::jsonb as j", [
        "1.50",
        true,
        { a: [1] },
      ]),
      pool.query({ text: "select 1 as a, 'two' as b", rowMode: "array" }),
      pool.query({ text: "select 7::int4 as n", types } as pg.QueryConfig),
    ]);
    expect(slow.rowCount).toBe(1);
    expect(named1.rows).toEqual([{ n: 2 }]);
    expect(named2.rows).toEqual([{ n: 42 }]);
    expect(typed.rows).toEqual([{ x: "1.50", b: true, j: { a: [1] } }]);
    expect(array.rows).toEqual([[1, "two"]]);
    expect(overridden.rows).toEqual([{ n: "int:7" }]);
  });

  it("a notice on a pipelined query reaches the client's 'notice' listeners and nothing else breaks", async () => {
    const notices: string[] = [];
    const pool = pipelined({
      // the pool's own listener on the client, as an application adds one
      onConnect: (client) => {
        client.on("notice", (notice) => notices.push(notice.message ?? ""));
      },
    });
    const setup = await pool.connect();
    await setup.query(
      "create or replace function pipelined_notice(n int) returns int language plpgsql as $$ begin raise notice 'n=%', n; return n; end $$",
    );
    setup.release();
    // the embedded server reports search_path (PostgreSQL 18): a function call may be pipelined
    const results = await Promise.all([
      pool.query("select pg_sleep(0.1)"),
      pool.query("select pipelined_notice(1) as n"),
      pool.query("select pipelined_notice(2) as n"),
    ]);
    expect(results.slice(1).map((r) => r.rows[0].n)).toEqual([1, 2]);
    expect(notices.filter((m) => m.startsWith("n="))).toEqual(["n=1", "n=2"]);
  });
});

describe("a connection lost mid-pipeline", () => {
  it("rejects exactly the queries on it, retries none, and the pool goes on", async () => {
    const pool = pipelined({ max: 2 }, { depth: 4, headOfLineMillis: 60_000 });
    const victim = await pool.connect();
    const pid = (await victim.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]
      ?.pid as number;
    const other = await pool.connect();
    other.release();
    victim.release();
    // a marker table: a query that ran (or was retried) leaves a row
    await pool.query("create table if not exists pipelined_marks (tag text)");
    await pool.query("truncate pipelined_marks");
    // a long query on each connection and inserts behind them (depth 4: four on each)
    const all: Promise<pg.QueryResult<{ pid: number; tag: string }>>[] = [];
    for (let i = 0; i < 8; i++) {
      all.push(
        pool.query(
          i < 2
            ? "select pg_sleep(0.5), 'sleep' as tag, pg_backend_pid() as pid"
            : `insert into pipelined_marks (tag) values ('${i}') returning tag, pg_backend_pid() as pid`,
        ),
      );
    }
    await terminate(db.url, [pid]);
    const settled = await Promise.allSettled(all);
    const rejected = settled.filter((r) => r.status === "rejected");
    const fulfilled = settled.filter(
      (r): r is PromiseFulfilledResult<pg.QueryResult<{ pid: number; tag: string }>> =>
        r.status === "fulfilled",
    );
    // the four in flight on the victim each fail once; the other connection's four succeed
    expect(rejected).toHaveLength(4);
    expect(fulfilled).toHaveLength(4);
    for (const r of fulfilled) expect(r.value.rows[0]?.pid).not.toBe(pid);
    for (const r of rejected)
      expect(String((r as PromiseRejectedResult).reason)).toMatch(/termin|ECONNRESET/i);
    // nothing retried: only the inserts that succeeded left a row
    const { rows } = await pool.query<{ tag: string }>("select tag from pipelined_marks");
    const inserted = fulfilled
      .map((r) => r.value.rows[0]?.tag)
      .filter((tag) => tag !== "sleep")
      .sort();
    expect(rows.map((r) => r.tag).sort()).toEqual(inserted);
    expect(pool.stats().counters.destroys.broken).toBeGreaterThanOrEqual(1);
  });
});

describe("release semantics", () => {
  it("reset 'always' runs once the pipeline drains, before the next borrower", async () => {
    const pool = pipelined({ reset: "always" });
    await onlyClient(pool);
    // that borrow's own reset is written ahead: let it finish before counting
    await vi.waitFor(() => expect(pool.stats().connector["resets"]).toBe(1));
    const resetsBefore = 1;
    await Promise.all([
      pool.query("select pg_sleep(0.1)"),
      pool.query("select 2"),
      pool.query("select 3"),
    ]);
    const client = await pool.connect();
    // one lease carried the three queries: one reset before this borrower
    expect(pool.stats().connector["resets"]).toBe(resetsBefore + 1);
    await client.query("set application_name = 'dirty'");
    client.release();
    const { rows } = await pool.query("show application_name");
    expect(rows[0].application_name).not.toBe("dirty");
  });

  it("two end() calls while queries run both finish when the work does", async () => {
    // a shutdown bound far past the test's timeout: only the work finishing can settle them
    const pool = pipelined({ shutdownTimeoutMillis: 600_000 });
    const running = pool.query("select pg_sleep(0.1), 1 as n");
    const first = pool.end();
    const second = pool.end();
    await Promise.all([first, second]);
    await expect(running).resolves.toMatchObject({ rows: [{ n: 1 }] });
  });

  it("end() waits for pipelined and queued queries accepted before it", async () => {
    const pool = pipelined({}, { depth: 2, headOfLineMillis: 60_000 });
    await onlyClient(pool);
    const queries = [
      pool.query("select pg_sleep(0.1), 1 as n"),
      pool.query("select 2 as n"),
      pool.query("select 3 as n"),
    ];
    await pool.end();
    expect((await Promise.all(queries)).map((r) => r.rows[0].n)).toEqual([1, 2, 3]);
    await expect(pool.query("select 1")).rejects.toThrow(/end/);
  });
});

describe("the pipelineQueries option", () => {
  const build = (pipelineQueries: unknown, extra: Record<string, unknown> = {}) =>
    new Pool({
      connectionString: db.url,
      pipelineQueries,
      ...extra,
    } as ConstructorParameters<typeof Pool>[0]);

  it("refuses values out of range, naming the option and the range", () => {
    expect(() => build({ depth: 0 })).toThrow(
      /"pipelineQueries.depth": "depth" must be an integer from 1 to 1000; got 0/,
    );
    expect(() => build({ headOfLineMillis: -1 })).toThrow(/pipelineQueries.headOfLineMillis/);
    expect(() => build({ dpeth: 4 })).toThrow(/unknown key "dpeth"/);
    expect(() => build(true)).toThrow(/expected false or an object/);
  });

  it("refuses PgBouncer's transaction mode, where a pipeline's order is not the server's", () => {
    expect(() => build({}, { pgbouncer: "transaction" })).toThrow(InvalidOptionError);
    expect(() => build({}, { pgbouncer: "transaction" })).toThrow(/pipelineQueries/);
  });

  it("is read from LIFEGUARD_PIPELINE_QUERIES_*", () => {
    const config = lifeguardConfigFromEnv({
      LIFEGUARD_PIPELINE_QUERIES_DEPTH: "4",
      LIFEGUARD_PIPELINE_QUERIES_HEAD_OF_LINE_MILLIS: "25",
    });
    expect(config.pipelineQueries).toEqual({ depth: 4, headOfLineMillis: 25 });
    pools.push(build(config.pipelineQueries));
  });
});
