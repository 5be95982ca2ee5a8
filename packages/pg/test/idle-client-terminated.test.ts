/**
 * An idle client whose backend is killed (pg_terminate_backend: a DBA, a failover, a server-side
 * idle timeout) leaves the pool's counts when it dies, as with pg.Pool: not at the next
 * housekeeping tick.
 */
import { once } from "node:events";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { Pool } from "../src/index.js";
import { pidOf, terminate } from "./helpers.js";

const db = useTestDatabase();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Subject {
  readonly label: string;
  make(url: string): pg.Pool;
}

const subjects: Subject[] = [
  { label: "pg.Pool", make: (url) => new pg.Pool({ connectionString: url, max: 2 }) },
  {
    label: "Lifeguard",
    make: (url) => new Pool({ connectionString: url, max: 2 }) as unknown as pg.Pool,
  },
];

describe.each(subjects)("idle client terminated by the server ($label)", ({ make }) => {
  it("leaves totalCount and idleCount by the time the pool's 'error' event fires", async () => {
    const pool = make(db.url);
    cleanups.push(() => pool.end());
    const client = await pool.connect();
    const pid = await pidOf(client);
    client.release();
    expect({ total: pool.totalCount, idle: pool.idleCount }).toEqual({ total: 1, idle: 1 });

    const errored = once(pool, "error");
    await terminate(db.url, [pid]);
    const [error] = (await errored) as [Error];
    expect((error as { code?: string }).code).toBe("57P01"); // admin_shutdown: terminated
    expect({ total: pool.totalCount, idle: pool.idleCount }).toEqual({ total: 0, idle: 0 });

    // and the pool works on: the next query gets a new backend
    const { rows } = await pool.query<{ pid: number }>("select pg_backend_pid() as pid");
    expect(rows[0]?.pid).not.toBe(pid);
  });
});
