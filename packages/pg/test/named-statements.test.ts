import { useTestDatabase } from "@lifeguard/test-fixtures";
import { afterEach, describe, expect, it } from "vitest";
import { Pool } from "../src/index.js";

const db = useTestDatabase();
let pool: Pool | undefined;
afterEach(async () => {
  await pool?.end();
  pool = undefined;
});

const named = (v: number) => ({ name: "lg_get", text: "select $1::int as v", values: [v] });

describe.each([
  ["auto", false],
  ["always", false],
  ["always", true],
] as const)("named statements with reset %s, pipeline %s", (reset, pipeline) => {
  it("keep working after any number of resets", async () => {
    pool = new Pool({ connectionString: db.url, max: 1, reset, pipeline });
    for (let i = 0; i < 10; i++) {
      const client = await pool.connect();
      await expect(client.query(named(i))).resolves.toMatchObject({ rows: [{ v: i }] });
      await client.query("set work_mem = '8MB'"); // dirty: the release resets (DISCARD ALL)
      client.release();
    }
    await pool.query("select 1"); // its borrow waits for the last release's reset
    expect(pool.stats().connector["resets"]).toBe(10);
  });

  it("keep working after the borrower runs DISCARD ALL or DEALLOCATE itself", async () => {
    pool = new Pool({ connectionString: db.url, max: 1, reset, pipeline });
    const client = await pool.connect();
    await client.query(named(1));
    await client.query("discard all");
    await expect(client.query(named(2))).resolves.toMatchObject({ rows: [{ v: 2 }] });
    await client.query("deallocate all");
    await expect(client.query(named(3))).resolves.toMatchObject({ rows: [{ v: 3 }] });
    await client.query({ name: "lg_other", text: "select 'x' as s" });
    await client.query("deallocate lg_get");
    // only lg_get was dropped: lg_other is still prepared on the server and in pg's cache
    await expect(client.query(named(4))).resolves.toMatchObject({ rows: [{ v: 4 }] });
    await expect(
      client.query({ name: "lg_other", text: "select 'x' as s" }),
    ).resolves.toMatchObject({
      rows: [{ s: "x" }],
    });
    client.release();
  });

  it("survive resets through pool.query()", async () => {
    pool = new Pool({ connectionString: db.url, max: 2, reset, pipeline });
    for (let i = 0; i < 20; i++) {
      await expect(pool.query(named(i))).resolves.toMatchObject({ rows: [{ v: i }] });
      await pool.query("select set_config('app.x', $1, false)", [String(i)]);
    }
  });
});
