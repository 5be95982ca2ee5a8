/**
 * The pg drop-in's promises where a user loses data or a connection otherwise (issue 14): one borrow
 * path, every connection inside `max`, eviction only of what is dead, bounded clean-up a borrower
 * never sees, listeners that leave with their lease, stale handles that touch nothing, bad input
 * refused before any I/O. Side by side with plain pg.Pool where the point is fidelity.
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import { InvalidOptionError, LeaseReleasedError } from "@lifeguard/core";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Pool } from "../src/index.js";
import { pidOf } from "./helpers.js";
import { backendsNamed as backendsOn } from "./reliability/support.js";

const db = useTestDatabase();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

function lifeguard(config: ConstructorParameters<typeof Pool>[0] = {}): Pool {
  const pool = new Pool({ connectionString: db.url, ...config });
  cleanups.push(() => pool.end());
  return pool;
}
function plain(config: pg.PoolConfig = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: db.url, ...config });
  pool.on("error", () => undefined);
  cleanups.push(() => pool.end());
  return pool;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: db.url });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
const backendsNamed = (name: string) => backendsOn(db.url, name);

describe("allowExitOnIdle: query() and connect() share one borrow path (child processes)", () => {
  const esm = fileURLToPath(new URL("./fixtures/exit-on-idle.ts", import.meta.url));
  const cjs = fileURLToPath(new URL("./fixtures/exit-on-idle.cjs", import.meta.url));
  // the CommonJS build of this source, as `require("@lifeguard/pg")` loads it
  const build = fileURLToPath(
    new URL("../node_modules/.cache/lifeguard-test/index.cjs", import.meta.url),
  );
  beforeAll(async () => {
    const tsup = createRequire(import.meta.url).resolve("tsup");
    const esbuild = createRequire(tsup)("esbuild") as {
      build(options: Record<string, unknown>): Promise<unknown>;
    };
    await esbuild.build({
      entryPoints: [fileURLToPath(new URL("../src/index.ts", import.meta.url))],
      outfile: build,
      bundle: true,
      format: "cjs",
      platform: "node",
      target: "node20",
      conditions: ["@lifeguard/source"],
      external: ["pg", "pg-*"],
      logLevel: "error",
    });
  });
  const run = (module: "esm" | "cjs", impl: "lifeguard" | "pg", mode: "query" | "connect") =>
    spawnSync(
      process.execPath,
      module === "esm"
        ? ["--import", "tsx", "--conditions=@lifeguard/source", esm, impl, mode, db.url]
        : [cjs, build, impl, mode, db.url],
      { encoding: "utf8", timeout: 30_000 },
    );
  for (const module of ["esm", "cjs"] as const) {
    for (const mode of ["query", "connect"] as const) {
      it(`${module}, ${mode}(): the process lives until the result arrives, then exits (both pools)`, () => {
        for (const impl of ["pg", "lifeguard"] as const) {
          const child = run(module, impl, mode);
          expect({ impl, stdout: child.stdout, stderr: child.stderr, code: child.status }).toEqual({
            impl,
            stdout: "result 42\n",
            stderr: "",
            code: 0,
          });
        }
      });
    }
  }
});

describe("every connection, in every stage, counts against max and ends with end()", () => {
  for (const hook of ["onConnect", "verify"] as const) {
    it(`a hung ${hook} never takes the server past max, and end() leaves no backend`, async () => {
      const name = `lg_hung_${hook}`;
      const hung = () => new Promise<void>(() => undefined);
      const pool = lifeguard({
        application_name: name,
        max: 2,
        connectionTimeoutMillis: 150,
        ...(hook === "onConnect" ? { onConnect: hung } : { verify: () => undefined }),
      });
      const outcomes: unknown[] = [];
      for (let round = 0; round < 4; round++) {
        outcomes.push(
          ...(await Promise.all(
            [1, 2].map(() =>
              pool.connect().then(
                () => "lent",
                (e: Error) => e.name,
              ),
            ),
          )),
        );
        // what the server holds for this pool never exceeds max (a closing socket may lag a moment)
        await vi.waitFor(async () => expect(await backendsNamed(name)).toBeLessThanOrEqual(2));
      }
      expect(outcomes).not.toContain("lent");
      expect(pool.totalCount).toBeLessThanOrEqual(2);
      await pool.end();
      await vi.waitFor(async () => expect(await backendsNamed(name)).toBe(0));
    });
  }
});

describe("release(err) evicts only a connection that is really dead", () => {
  it("a parameter-count mismatch the server answered (08P01) keeps the connection and its elders", async () => {
    const pool = lifeguard({ max: 2 });
    const older = await pool.connect();
    const client = await pool.connect();
    const pids = [await pidOf(older), await pidOf(client)];
    const error = await client.query("select $1::int as n", [1, 2]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "08P01" });
    older.release();
    client.release(error as Error);
    const again = [await pool.connect(), await pool.connect()];
    expect((await Promise.all(again.map(pidOf))).sort()).toEqual(pids.sort());
    for (const c of again) c.release();
    expect(pool.stats().counters.destroys.evicted).toBe(0);
  });

  it("an ECONNREFUSED from another service passed to release() keeps the connection", async () => {
    const pool = lifeguard({ max: 2 });
    const older = await pool.connect();
    const client = await pool.connect();
    const pids = [await pidOf(older), await pidOf(client)];
    older.release();
    client.release(
      Object.assign(new Error("connect ECONNREFUSED 10.0.0.7:6379"), { code: "ECONNREFUSED" }),
    );
    const again = [await pool.connect(), await pool.connect()];
    expect((await Promise.all(again.map(pidOf))).sort()).toEqual(pids.sort());
    for (const c of again) c.release();
  });

  it("plain pg.Pool destroys the client on any release(err) (the documented difference)", async () => {
    const pool = plain({ max: 1 });
    const client = await pool.connect();
    const pid = await pidOf(client);
    client.release(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }));
    const next = await pool.connect();
    expect(await pidOf(next)).not.toBe(pid);
    next.release();
  });
});

describe("clean-up is bounded, unaffected by the session it cleans, and never reaches a borrower", () => {
  it("onConnect replay + a custom resetQuery that cannot replay it: every query still succeeds", async () => {
    const pool = lifeguard({
      max: 1,
      reset: "always",
      resetQuery: "RESET ALL",
      onConnect: async (client) => {
        await client.query("PREPARE lifeguard_one AS select 1 as one");
      },
    });
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      outcomes.push(
        await pool.query("execute lifeguard_one").then(
          (r) => String(r.rows[0]?.one),
          (e: Error) => e.message,
        ),
      );
    }
    expect(outcomes).toEqual(["1", "1", "1", "1", "1", "1"]);
    // the replay failed (the statement survived RESET ALL): the connection was replaced instead
    expect(pool.stats().connector["cleanupFailures"]).toBeGreaterThan(0);
  });

  it("a reset written ahead of the next borrower is bounded too: a blocked reset ends in a fresh connection", async () => {
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    cleanups.push(() => locker.end());
    await locker.query("select pg_advisory_lock(4242)");
    cleanups.push(() => locker.query("select pg_advisory_unlock(4242)"));
    const pool = lifeguard({
      max: 1,
      reset: "always",
      // a reset that waits on a lock another session holds
      resetQuery: "select pg_advisory_xact_lock(4242)",
      connectionTimeoutMillis: 20_000,
      cleanupTimeoutMillis: 200,
    });
    const first = await pool.connect();
    const pid = await pidOf(first);
    first.release(); // its reset blocks on the lock
    const next = await pool.connect();
    expect(await pidOf(next)).not.toBe(pid);
    next.release();
    expect(pool.stats().connector["cleanupFailures"]).toBe(1);
  });

  it("a release while a statement still runs is bounded by the same clean-up bound", async () => {
    const pool = lifeguard({ max: 1, connectionTimeoutMillis: 3_000, cleanupTimeoutMillis: 200 });
    const first = await pool.connect();
    const pid = await pidOf(first);
    void first.query("select pg_sleep(20)").catch(() => undefined);
    first.release(); // the clean-up waits for the statement: 200 ms at most
    const next = await pool.connect();
    expect(await pidOf(next)).not.toBe(pid);
    next.release();
  });

  it("the previous borrower's statement_timeout neither cancels the reset nor reaches the next borrower", async () => {
    const pool = lifeguard({ max: 1 });
    const first = await pool.connect();
    const pid = await pidOf(first);
    // a reset with work to do (DISCARD ALL drops them), under a timeout shorter than that work
    await first.query(
      "do $$ begin for i in 1..200 loop execute format('create temp table t%s (id int)', i); end loop; end $$",
    );
    await first.query("set statement_timeout = 1");
    first.release();
    const next = await pool.connect();
    expect(await pidOf(next)).toBe(pid); // the reset succeeded: same session, cleaned
    await expect(
      next.query("select pg_sleep(0.01), current_setting('statement_timeout') as t"),
    ).resolves.toMatchObject({
      rows: [{ t: "0" }],
    });
    next.release();
    expect(pool.stats().connector["cleanupFailures"]).toBe(0);
  });

  it("a custom resetQuery that leaves timeouts alone: the borrower's timeout still does not reach the next one", async () => {
    const pool = lifeguard({ max: 1, reset: "always", resetQuery: "RESET search_path" });
    const first = await pool.connect();
    await first.query("set statement_timeout = 1");
    await first.query("set lock_timeout = 1");
    first.release();
    const { rows } = await pool.query(
      "select current_setting('statement_timeout') as s, current_setting('lock_timeout') as l",
    );
    expect(rows[0]).toEqual({ s: "0", l: "0" });
  });
});

describe("listeners and notifications stay with the lease that asked for them", () => {
  it("a 'notification' listener added through a handle leaves with its lease (no pile-up)", async () => {
    const pool = lifeguard({ max: 1 });
    const first = await pool.connect();
    const base = first.listenerCount("notification");
    first.release();
    for (let i = 0; i < 20; i++) {
      const client = await pool.connect();
      client.on("notification", () => undefined);
      client.release();
    }
    const client = await pool.connect();
    expect(client.listenerCount("notification")).toBe(base);
    client.release();
  });

  it("a borrower hears only the channels its own lease listened on", async () => {
    // reset 'never': the earlier borrower's LISTEN stays on the session, so its channel's
    // notifications keep arriving on the client the next borrower holds
    const pool = lifeguard({ max: 1, reset: "never" });
    const a = await pool.connect();
    const heardByA: string[] = [];
    a.on("notification", (m) => heardByA.push(m.channel));
    await a.query("LISTEN chan_a");
    a.release();
    const b = await pool.connect();
    const heardByB: string[] = [];
    b.on("notification", (m) => heardByB.push(m.channel));
    await b.query('LISTEN "Chan_B"');
    await admin(async (c) => {
      await c.query("NOTIFY chan_a, 'for a'");
      await c.query(`NOTIFY "Chan_B", 'for b'`);
    });
    await vi.waitFor(() => expect(heardByB).toEqual(["Chan_B"]));
    await b.query("select 1"); // anything for chan_a has arrived by now
    expect(heardByB).toEqual(["Chan_B"]);
    expect(heardByA).toEqual([]);
    b.release();
  });

  it("plain pg.Pool: the earlier borrower's listener hears the next borrower's payloads (its behaviour)", async () => {
    const pool = plain({ max: 1 });
    const a = await pool.connect();
    const heardByA: string[] = [];
    a.on("notification", (m) => heardByA.push(m.channel));
    a.release();
    const b = await pool.connect();
    await b.query("LISTEN chan_b2");
    await admin((c) => c.query("NOTIFY chan_b2"));
    await vi.waitFor(() => expect(heardByA).toEqual(["chan_b2"]));
    await b.query("UNLISTEN *");
    b.release();
  });
});

describe("a stale handle refuses every operation", () => {
  it("end() through a stale handle does not close the next borrower's connection", async () => {
    const pool = lifeguard({ max: 1 });
    const a = await pool.connect();
    a.release();
    const b = await pool.connect();
    expect(() => a.end()).toThrow(LeaseReleasedError);
    expect(() => a.end()).toThrow(/client\.end\(\)/);
    expect(() => a.query("select 1")).toThrow(/client\.query\(\)/);
    expect(() => a.on("notification", () => undefined)).toThrow(/client\.on\(\)/);
    await expect(b.query("select 1 as one")).resolves.toMatchObject({ rows: [{ one: 1 }] });
    b.release();
  });

  it("plain pg.Pool: a stale end() closes the client the next borrower holds (its behaviour)", async () => {
    const pool = plain({ max: 1 });
    const a = await pool.connect();
    a.release();
    const b = await pool.connect();
    await a.end();
    await expect(b.query("select 1")).rejects.toThrow();
    b.release(true);
  });
});

describe("passwords stay hidden", () => {
  it("a raw % in the connection string's password is hidden from options, inspect and JSON", () => {
    const url = "postgres://app:se%cret-pass@localhost:1/db";
    const pool = new Pool({ connectionString: url });
    cleanups.push(() => pool.end());
    for (const text of [
      JSON.stringify(pool.options),
      inspect(pool.options),
      inspect(pool),
      JSON.stringify(pool),
    ]) {
      expect(text).not.toContain("se%cret-pass");
    }
  });
});

describe("bad input is refused before any I/O, naming what to fix", () => {
  it("pool.query(null): rejected without borrowing (pg.Pool rejects the same TypeError after borrowing)", async () => {
    const pool = lifeguard({ max: 1 });
    const pgPool = plain({ max: 1 });
    for (const p of [pool, pgPool]) {
      await expect(p.query(null as unknown as string)).rejects.toThrow(
        /Client was passed a null or undefined query/,
      );
    }
    expect(pool.totalCount).toBe(0);
    expect(pgPool.totalCount).toBeLessThanOrEqual(1);
  });

  it("no connection string and no user anywhere", () => {
    const saved = pg.defaults.user;
    const savedEnv = process.env["PGUSER"];
    (pg.defaults as { user?: string | undefined }).user = undefined;
    delete process.env["PGUSER"];
    try {
      expect(() => new Pool({ host: "localhost" })).toThrow(InvalidOptionError);
      expect(() => new Pool({ host: "localhost" })).toThrow(/user name.*connectionString.*user/s);
    } finally {
      (pg.defaults as { user?: string | undefined }).user = saved;
      if (savedEnv !== undefined) process.env["PGUSER"] = savedEnv;
    }
  });

  it("a non-numeric port names the option (pg.Pool: a bare TypeError at the first connect)", () => {
    expect(() => new Pool({ connectionString: "postgres://u:secret1@localhost:abc/db" })).toThrow(
      /connectionString.*port/s,
    );
    expect(
      () => new Pool({ connectionString: "postgres://u:secret1@localhost:abc/db" }),
    ).not.toThrow(/secret1/);
    expect(
      () => new Pool({ host: "localhost", user: "u", port: "abc" as unknown as number }),
    ).toThrow(/"port".*1 to 65535/);
    const pgPool = new pg.Pool({ connectionString: "postgres://u:p@localhost:abc/db" });
    expect(() => pgPool.connect()).toThrow(/^Invalid URL$/);
  });
});
