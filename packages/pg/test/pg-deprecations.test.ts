import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Pool } from "../src/index.js";

// pg deprecates sending a query while another runs (outside pipeline mode; removed in pg 9). The
// pool's own statements (reset, rollback, set-up replay, ping) must never do it, whatever the
// borrower does. Each test file runs in a fresh module context, so pg's once-only warning is armed.
const db = useTestDatabase();
let pool: Pool | undefined;
afterEach(async () => {
  await pool?.end();
  pool = undefined;
  vi.restoreAllMocks();
});

function deprecations(spy: { mock: { calls: unknown[][] } }): string[] {
  return spy.mock.calls
    .map((call) => String(call[0]))
    .filter((message) => message.includes("already executing a query"));
}

describe("the pool never queues a query behind a running one", () => {
  it("resets, set-up replays, pings, rollbacks and a release mid-query, under 'always' and 'auto'", async () => {
    const warn = vi.spyOn(process, "emitWarning");
    for (const reset of ["always", "auto"] as const) {
      pool = new Pool({
        connectionString: db.url,
        max: 2,
        reset,
        prePing: { bypassWindowMillis: 0 },
        onConnect: async (client) => {
          await client.query("set application_name = 'lg-deprecations'");
        },
      });
      // quick leases, each dirty: the reset and the replay run while the next borrower starts
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          pool?.query("select set_config('app.x', $1, false)", [String(i)]),
        ),
      );
      const c = await pool.connect();
      await c.query("begin");
      c.release(); // rollback
      const d = await pool.connect();
      const running = d.query("select pg_sleep(0.02)");
      d.release(); // released mid-query: the clean-up waits for it
      await running;
      await pool.query({ name: "lg_dep", text: "select 1 as one" });
      await pool.end();
      pool = undefined;
    }
    expect(deprecations(warn)).toEqual([]);
  });

  it("(pg itself warns when a query is sent while one runs, so the check above can fail)", async () => {
    // this test sends the deprecated pattern on purpose: its warning is caught, not printed, so a
    // deprecation printed by `pnpm test` always means the pool (or another test) did it
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    // pg warns when a query joins a queue that already holds one behind the running query
    await Promise.all([
      client.query("select pg_sleep(0.01)"),
      client.query("select 1"),
      client.query("select 2"),
    ]);
    await client.end();
    expect(deprecations(warn)).toHaveLength(1);
  });
});
