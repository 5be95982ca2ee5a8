import { useReplicationCluster } from "@lifeguard/test-fixtures";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { doctor, formatDoctor } from "../src/index.js";

const cluster = useReplicationCluster({ standbys: 2 });

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

const address = (port: number) => `127.0.0.1:${port}`;

describe("doctor with a multi-host URL, on a real replication cluster", () => {
  it("shows each host's role, a caught-up standby's lag, and which host a session would use", async () => {
    const [primary, standby1, standby2] = cluster.nodes.map((node) => address(node.port));
    await query(cluster.primary.url, "create table if not exists doctor_probe (v int)");
    await query(cluster.primary.url, "insert into doctor_probe values (1)");
    await cluster.waitForReplication();

    const report = await doctor(cluster.multiHostUrl({ target_session_attrs: "standby" }));
    expect(report.cluster?.targetSessionAttrs).toBe("standby");
    expect(report.cluster?.hosts.map((h) => [h.address, h.role])).toEqual([
      [primary, "primary"],
      [standby1, "standby"],
      [standby2, "standby"],
    ]);
    expect(report.cluster?.hosts[1]?.replay).toEqual({
      lagSeconds: 0,
      bytesBehind: 0,
      paused: false,
    });
    expect(report.cluster?.hosts[0]?.replay).toBeUndefined();
    expect(report.cluster?.eligible).toEqual([standby1, standby2]);
    // the server details come from the host a session would use
    expect(report.cluster?.detailsFrom).toBe(standby1);
    expect(report.connections.max).toBeGreaterThan(0);
    const text = formatDoctor(report);
    expect(text).toContain(`target_session_attrs=standby: a new session goes to ${standby1}`);
    expect(text).toMatch(new RegExp(`${standby2}\\s+standby\\s+replay lag 0\\.0 s, 0 B behind`));
    expect(text).toContain(`details from ${standby1}:`);

    const writer = await doctor(cluster.multiHostUrl({ target_session_attrs: "read-write" }));
    expect(writer.cluster?.eligible).toEqual([primary]);
    expect(writer.cluster?.detailsFrom).toBe(primary);
  });

  it("a paused standby shows WAL received and not replayed; a stopped one shows as down", async () => {
    const [primary, standby1, standby2] = cluster.nodes.map((node) => address(node.port));
    const lagging = cluster.standbys[1];
    const stopped = cluster.standbys[0];
    if (lagging === undefined || stopped === undefined) throw new Error("two standbys expected");
    await lagging.pauseReplay();
    await stopped.stop();
    try {
      await query(cluster.primary.url, "insert into doctor_probe select generate_series(1, 1000)");
      const [target] = await query<{ lsn: string }>(
        cluster.primary.url,
        "select pg_current_wal_insert_lsn() as lsn",
      );
      // replay is paused, not reception: wait until the standby has the new WAL
      for (;;) {
        const [row] = await query<{ received: boolean }>(
          lagging.url,
          `select pg_last_wal_receive_lsn() >= '${target?.lsn}'::pg_lsn as received`,
        );
        if (row?.received === true) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }

      const report = await doctor(cluster.multiHostUrl({ target_session_attrs: "read-only" }));
      const [first, second, third] = report.cluster?.hosts ?? [];
      expect(first).toMatchObject({ address: primary, role: "primary" });
      expect(second).toMatchObject({ address: standby1, role: "down" });
      expect(second?.error).toMatch(/ECONNREFUSED/);
      expect(third).toMatchObject({ address: standby2, role: "standby" });
      expect(third?.replay?.paused).toBe(true);
      expect(third?.replay?.bytesBehind).toBeGreaterThan(0);
      expect(third?.replay?.lagSeconds).toBeGreaterThan(0);
      expect(report.cluster?.eligible).toEqual([standby2]);
      expect(report.findings.join("\n")).toContain(`${standby1} is down`);
      expect(report.findings.join("\n")).toContain(`${standby2} has WAL replay paused`);
      expect(formatDoctor(report)).toMatch(
        new RegExp(
          `${standby2}\\s+standby\\s+replay lag \\d+\\.\\d s, [\\d.]+ k?B behind, replay paused`,
        ),
      );
    } finally {
      await lagging.resumeReplay();
      await stopped.start();
    }
    await cluster.waitForReplication();
  });

  it("says so when no host matches target_session_attrs", async () => {
    const standbysOnly = `postgres://postgres@${cluster.standbys.map((n) => address(n.port)).join(",")}/postgres?target_session_attrs=read-write`;
    const report = await doctor(standbysOnly);
    expect(report.cluster?.eligible).toEqual([]);
    expect(report.findings).toContain(
      "no host is eligible for target_session_attrs=read-write: a new connection would fail.",
    );
    expect(report.findings).toContain("no host is a primary: writes fail until one is promoted.");
    expect(formatDoctor(report)).toContain("a new session goes to no host");
  });

  it("refuses a bad multi-host URL the way the pool would", async () => {
    await expect(
      doctor(
        `postgres://postgres@${address(cluster.primary.port)},127.0.0.1:1/postgres?target_session_attrs=writer`,
      ),
    ).rejects.toThrow(/target_session_attrs.*expected one of any, read-write/);
  });
});
