/**
 * A `verify` hook that fails is the application's error, not the database's: the query that
 * needed the connection fails with it, and the next one connects (and verifies) again. Side by side
 * with pg.Pool, which has the same option.
 */

import { DatabaseUnavailableError } from "@lifeguard/core";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { Pool } from "../src/index.js";

const db = useTestDatabase();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Verify = (client: pg.PoolClient, done: (error?: Error) => void) => void;

const subjects = [
  {
    label: "pg.Pool",
    make: (url: string, verify: Verify) =>
      new pg.Pool({ connectionString: url, max: 2, verify } as pg.PoolConfig),
  },
  {
    label: "Lifeguard",
    make: (url: string, verify: Verify) =>
      new Pool({ connectionString: url, max: 2, verify }) as unknown as pg.Pool,
  },
];

describe.each(subjects)("a verify hook that fails ($label)", ({ make }) => {
  it("fails each query with the hook's error and verifies again on the next connect", async () => {
    let calls = 0;
    let failing = true;
    const pool = make(db.url, (_client, done) => {
      calls++;
      done(failing ? new Error(`verify failed (${calls})`) : undefined);
    });
    pool.on("error", () => undefined);
    cleanups.push(() => pool.end());

    const first = await pool.query("select 1").catch((error: unknown) => error);
    const second = await pool.query("select 1").catch((error: unknown) => error);
    expect((first as Error).message).toBe("verify failed (1)");
    expect((second as Error).message).toBe("verify failed (2)");
    expect(second).not.toBeInstanceOf(DatabaseUnavailableError);
    expect(calls).toBe(2);

    failing = false;
    const { rows } = await pool.query<{ one: number }>("select 1 as one");
    expect(rows).toEqual([{ one: 1 }]);
  });
});
