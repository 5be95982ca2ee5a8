/**
 * pool.servers(): the pool's connections by server for a connector that spreads them over several
 * (cluster mode), counted from the pool's own bag so they add up to stats(); nothing for a
 * connector on one server. docs/metrics.md ("Per host").
 */
import { describe, expect, it } from "vitest";
import type { Lease } from "../src/index.js";
import { setup } from "./support/harness.js";
import type { StubConnection } from "./support/stub-connector.js";
import { TwoServerConnector } from "./support/two-server-connector.js";

describe("pool.servers()", () => {
  it("is empty for a connector on one server", async () => {
    const { pool } = setup();
    (await pool.acquire()).release();
    expect(pool.servers()).toEqual([]);
  });

  it("counts idle and used connections by server, adding up to stats()", async () => {
    const connector = new TwoServerConnector();
    const { pool } = setup({ connector, max: 5 });
    const leases: Lease<StubConnection>[] = [];
    for (let i = 0; i < 5; i++) leases.push(await pool.acquire());
    // ids 1, 3, 5 on a; 2, 4 on b. Return 1 and 2: one idle on each
    leases[0]?.release();
    leases[1]?.release();
    const servers = pool.servers();
    expect(servers).toEqual([
      {
        address: "db-a",
        port: 5432,
        role: "primary",
        up: true,
        lagSeconds: undefined,
        connectFailures: 0,
        idle: 1,
        used: 2,
      },
      {
        address: "db-b",
        port: 5433,
        role: "standby",
        up: true,
        lagSeconds: 0.25,
        connectFailures: 0,
        idle: 1,
        used: 1,
      },
    ]);
    const stats = pool.stats();
    expect(servers.reduce((n, s) => n + s.idle, 0)).toBe(stats.idle);
    expect(servers.reduce((n, s) => n + s.used, 0)).toBe(stats.used);
    for (const lease of leases.slice(2)) lease.release();
    const after = pool.servers();
    expect(after.map((s) => [s.idle, s.used])).toEqual([
      [3, 0],
      [2, 0],
    ]);
  });

  it("reports what the connector knows now (a role that changed, a server down)", async () => {
    const connector = new TwoServerConnector();
    const { pool } = setup({ connector });
    (await pool.acquire()).release();
    connector.a.role = "down";
    connector.a.up = false;
    connector.a.connectFailures = 3;
    expect(pool.servers()[0]).toMatchObject({ role: "down", up: false, connectFailures: 3 });
  });

  it("is empty when the connector's servers() throws", async () => {
    const connector = new TwoServerConnector();
    const { pool } = setup({ connector });
    (await pool.acquire()).release();
    connector.throws = true;
    expect(pool.servers()).toEqual([]);
  });
});
