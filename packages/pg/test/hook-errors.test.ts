/**
 * An error thrown by the application's own connection set-up (`onConnect`, `verify`, a 'connect'
 * listener) is the application's error, not the database's availability (issue 15.4). The pg side
 * guarantees: the connector classifies it as a statement error, rejects with the original error,
 * and closes that connection itself. The core side (separate change) rejects that one acquire
 * with it and does not count it as the database being unavailable.
 */
import { type ConnectContext, systemClock } from "@lifeguard/core";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { defaultEvictOnSqlState, Pool } from "../src/index.js";
import { PgConnector, sqlStateClassifier } from "../src/internal.js";
import { backendsNamed as backendsOn } from "./reliability/support.js";

/** What a pool hands its connector's connect(), for calling the connector directly. */
function connectContext(): ConnectContext {
  return {
    signal: new AbortController().signal,
    clock: systemClock,
    poolName: "hook-errors",
    connectionLost: () => {},
  };
}

const db = useTestDatabase();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** Backends of the pool named `name` on the test database. */
const backendsNamed = (name: string) => backendsOn(db.url, name);

function connector(name: string, connected: (client: pg.Client) => Promise<void>): PgConnector {
  return new PgConnector({
    Client: pg.Client,
    clientConfig: { connectionString: db.url, application_name: name },
    reset: "auto",
    pgbouncer: false,
    namedStatements: true,
    resetQuery: "DISCARD ALL",
    classify: sqlStateClassifier(defaultEvictOnSqlState),
    allowExitOnIdle: false,
    secrets: [],
    hooks: {
      connected,
      removed: () => undefined,
      idleError: () => undefined,
      sessionCleaned: () => undefined,
      warning: () => undefined,
    },
  });
}

describe("hook errors (pg side)", () => {
  const cases = {
    "a plain Error": () => new Error("tenant lookup failed"),
    "an error that looks like a dead connection (ECONNREFUSED from another service)": () =>
      Object.assign(new Error("connect ECONNREFUSED 10.0.0.9:6379"), { code: "ECONNREFUSED" }),
  };
  for (const [what, make] of Object.entries(cases)) {
    it(`${what}: rejected as itself, classified 'statement', its connection closed`, async () => {
      const name = `lg_hook_${what.length}`;
      const thrown = make();
      const c = connector(name, async (client) => {
        await client.query("select 1");
        throw thrown;
      });
      const error = await c.connect(connectContext()).catch((e) => e);
      expect(error).toBe(thrown);
      expect(c.classify(error)).toBe("statement");
      expect(await backendsNamed(name)).toBe(0);
    });
  }

  it("a thrown non-Error is wrapped, with it as cause, and classified 'statement'", async () => {
    const c = connector("lg_hook_string", async () => {
      throw "nope";
    });
    const error = (await c.connect(connectContext()).catch((e) => e)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.cause).toBe("nope");
    expect(c.classify(error)).toBe("statement");
  });

  it("the same error not from a hook is still a connection error", () => {
    const c = connector("lg_hook_plain", async () => undefined);
    expect(c.classify(Object.assign(new Error("x"), { code: "ECONNREFUSED" }))).toBe("connection");
  });
});

// passes after merge with core: core rejects the acquire with a 'statement' connect error and
// does not open the circuit
describe("hook errors end to end (passes after merge with core)", () => {
  it("onConnect throwing: each connect() rejects with the hook's error and calls the hook again, like pg.Pool", async () => {
    for (const impl of ["pg.Pool", "Lifeguard"] as const) {
      const thrown = new Error("onConnect failed");
      let calls = 0;
      const onConnect = async () => {
        calls++;
        throw thrown;
      };
      const pool =
        impl === "pg.Pool"
          ? new pg.Pool({ connectionString: db.url, onConnect } as pg.PoolConfig)
          : new Pool({ connectionString: db.url, onConnect });
      cleanups.push(() => pool.end());
      await expect(pool.connect()).rejects.toBe(thrown);
      await expect(pool.connect()).rejects.toBe(thrown);
      expect({ impl, calls }).toEqual({ impl, calls: 2 });
      await vi.waitFor(() => expect(pool.totalCount).toBe(0));
    }
  });
});
