/**
 * What an open pg connection keeps alive. Found by the idle-memory benchmark: the client's own
 * 'error' and 'end' listeners were made inside `connect()`, so they kept its whole abort machinery
 * (the race's promise, its reject function, the attempt's AbortSignal) for the connection's life.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { systemClock } from "@lifeguard/core";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { defaultEvictOnSqlState } from "../src/index.js";
import { PgConnector, sqlStateClassifier } from "../src/internal.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const db = useTestDatabase();

function connector(): PgConnector {
  return new PgConnector({
    Client: pg.Client,
    clientConfig: { connectionString: db.url, application_name: "lg_connection_memory" },
    reset: "auto",
    pgbouncer: false,
    namedStatements: true,
    resetQuery: "DISCARD ALL",
    classify: sqlStateClassifier(defaultEvictOnSqlState),
    allowExitOnIdle: false,
    secrets: [],
    hooks: {
      connected: async () => {},
      removed: () => undefined,
      idleError: () => undefined,
      sessionCleaned: () => undefined,
      warning: () => undefined,
    },
  });
}

describe("an open pg connection", () => {
  it("does not keep the AbortSignal it was opened with alive", async () => {
    const c = connector();
    const signals: WeakRef<AbortSignal>[] = [];
    let lost = 0;
    const clients: pg.Client[] = [];
    // opened in a function of its own: a signal left in this test's own frame would stay alive
    const open = async () => {
      const signal = new AbortController().signal;
      signals.push(new WeakRef(signal));
      return c.connect({
        signal,
        clock: systemClock,
        poolName: "connection-memory",
        connectionLost: () => {
          lost++;
        },
      });
    };
    for (let i = 0; i < 3; i++) clients.push(await open());
    try {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
      expect(signals.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
      // the listeners still do their job: a client that ends reports itself lost
      await clients[0]?.end();
      expect(lost).toBe(1);
    } finally {
      for (const client of clients.slice(1)) await client.end();
    }
  });
});
