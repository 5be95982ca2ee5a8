/**
 * Cluster mode on a real streaming-replication cluster (a primary and two hot standbys from the
 * embedded binaries, test-fixtures' startReplicationCluster): where each target_session_attrs
 * lands, the writer and the reader, a standby down and back, and a lagging standby skipped.
 */
import { useReplicationCluster } from "@lifeguard/test-fixtures";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, Pool, type TargetSessionAttrs } from "../../src/index.js";

const replication = useReplicationCluster({ standbys: 2 });

const open: { end(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.end()));
});

/** The port of the server that ran the query, and whether it is a standby. */
const WHERE = "select inet_server_port() as port, pg_is_in_recovery() as standby";

/** The servers `count` clients borrowed at once are connected to (all of the pool's connections). */
async function servedBy(pool: Pool, count = 1): Promise<Set<number>> {
  const clients = await Promise.all(Array.from({ length: count }, () => pool.connect()));
  const ports = new Set<number>();
  try {
    for (const client of clients) ports.add((await client.query(WHERE)).rows[0].port);
  } finally {
    for (const client of clients) client.release();
  }
  return ports;
}

describe("target_session_attrs on a multi-host Pool (hosts in order: primary, standby1, standby2)", () => {
  const cases: [TargetSessionAttrs, "primary" | "standby"][] = [
    ["any", "primary"],
    ["read-write", "primary"],
    ["primary", "primary"],
    ["read-only", "standby"],
    ["standby", "standby"],
    ["prefer-standby", "standby"],
  ];
  it.each(cases)("%s lands on a %s", async (target, expected) => {
    const pool = new Pool({
      connectionString: replication.multiHostUrl({ target_session_attrs: target }),
      max: 3,
    });
    open.push(pool);
    const clients = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
    try {
      for (const client of clients) {
        const { rows } = await client.query(WHERE);
        expect(rows[0].standby).toBe(expected === "standby");
        if (expected === "primary") expect(rows[0].port).toBe(replication.primary.port);
        else expect(replication.standbys.map((s) => s.port)).toContain(rows[0].port);
      }
    } finally {
      for (const client of clients) client.release();
    }
  });

  it("load_balance_hosts=random spreads standby connections over both standbys", async () => {
    const pool = new Pool({
      connectionString: replication.multiHostUrl({
        target_session_attrs: "standby",
        load_balance_hosts: "random",
      }),
      max: 12,
    });
    open.push(pool);
    // connections opened before the second standby's role is learned all go to the first one
    // learned (a host not known yet is not chosen in a random order); later rounds, with fresh
    // connections, see both
    const ports = new Set<number>();
    for (let round = 0; round < 5 && ports.size < 2; round++) {
      const clients = await Promise.all(Array.from({ length: 12 }, () => pool.connect()));
      for (const client of clients) ports.add((await client.query(WHERE)).rows[0].port);
      for (const client of clients) client.release(true);
    }
    // 12 connections all on one of two standbys by chance, round after round: 2 × 2^-12 each
    expect(ports).toEqual(new Set(replication.standbys.map((s) => s.port)));
  });
});

describe("Cluster: the writer on the primary, the reader on the standbys", () => {
  it("writes go to the primary, reads to standbys, and reads see the writes once replicated", async () => {
    const cluster = new Cluster({ connectionString: replication.multiHostUrl(), max: 4 });
    open.push(cluster);
    expect(await servedBy(cluster.writer, 4)).toEqual(new Set([replication.primary.port]));
    await cluster.writer.query("create table if not exists routed (id int)");
    await cluster.writer.query("insert into routed values (1), (2)");
    await replication.waitForReplication();
    const reads = await servedBy(cluster.reader, 4);
    for (const port of reads) expect(replication.standbys.map((s) => s.port)).toContain(port);
    const { rows } = await cluster.reader.query("select count(*)::int as n from routed");
    expect(rows[0].n).toBe(2);
    // a write CTE through the reader runs on the primary
    const cte = await cluster.reader.query(
      "with x as (insert into routed values (3) returning inet_server_port() as port) select port from x",
    );
    expect(cte.rows[0].port).toBe(replication.primary.port);
    const roles = Object.fromEntries(cluster.hosts().map((h) => [h.port, h.role]));
    expect(roles).toEqual({
      [replication.primary.port]: "primary",
      [replication.standbys[0]?.port as number]: "standby",
      [replication.standbys[1]?.port as number]: "standby",
    });
  });

  it("a standby down: reads shift to the other; back: reads return to it", async () => {
    const cluster = new Cluster({
      connectionString: replication.multiHostUrl(),
      max: 16,
      hostRecheckMillis: 200,
    });
    open.push(cluster);
    const [standby1, standby2] = replication.standbys as [
      (typeof replication.standbys)[0],
      (typeof replication.standbys)[0],
    ];
    // once both standbys' roles are known (connections opened before that go to the first learned)
    await cluster.refresh();
    expect(await servedBy(cluster.reader, 16)).toEqual(new Set([standby1.port, standby2.port]));
    await standby1.stop();
    try {
      // the connections to it are gone (their first use fails and retires them); then only standby2
      for (let i = 0; i < 12; i++) await cluster.reader.query("select 1").catch(() => undefined);
      expect(await servedBy(cluster.reader, 16)).toEqual(new Set([standby2.port]));
      expect(cluster.hosts().find((h) => h.port === standby1.port)?.role).toBe("down");
    } finally {
      await standby1.start();
    }
    // back: learned at a recheck once its back-off ends; new connections go to it again
    for (
      let i = 0;
      i < 100 && cluster.hosts().find((h) => h.port === standby1.port)?.role !== "standby";
      i++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(cluster.hosts().find((h) => h.port === standby1.port)?.role).toBe("standby");
    // no evict(): the reads that crowded standby2 were retired softly, and replaced on standby1
    const ports = await servedBy(cluster.reader, 16);
    expect(ports).toEqual(new Set([standby1.port, standby2.port]));
  });

  it("a standby whose replay is paused is skipped past maxReplicaLagMillis, and used again once caught up", async () => {
    const cluster = new Cluster({
      connectionString: replication.multiHostUrl(),
      max: 16,
      maxReplicaLagMillis: 300,
      hostRecheckMillis: 60_000,
    });
    open.push(cluster);
    const [standby1, standby2] = replication.standbys as [
      (typeof replication.standbys)[0],
      (typeof replication.standbys)[0],
    ];
    await cluster.writer.query("create table if not exists lag (id int)");
    await replication.waitForReplication();
    await cluster.refresh();
    expect(await servedBy(cluster.reader, 16)).toEqual(new Set([standby1.port, standby2.port]));
    await standby1.pauseReplay();
    try {
      await cluster.writer.query("insert into lag values (1)");
      await new Promise((resolve) => setTimeout(resolve, 500));
      await cluster.writer.query("insert into lag values (2)");
      await cluster.refresh();
      const lagging = cluster.hosts().find((h) => h.port === standby1.port);
      expect(lagging?.lagging).toBe(true);
      expect(lagging?.lagMillis).toBeGreaterThan(300);
      // its reader connections were retired: every read is served by standby2 now
      expect(await servedBy(cluster.reader, 16)).toEqual(new Set([standby2.port]));
    } finally {
      await standby1.resumeReplay();
    }
    await replication.waitForReplication();
    await cluster.refresh();
    expect(cluster.hosts().find((h) => h.port === standby1.port)?.lagging).toBe(false);
    // the reader's open connections stay where they are; new ones may go to standby1 again
    cluster.reader.evict();
    expect(await servedBy(cluster.reader, 16)).toContain(standby1.port);
  });
});
