import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";
import { type ReplicationCluster, startReplicationCluster } from "../src/index.js";

async function query<T extends pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function inHotStandby(url: string): Promise<boolean> {
  const rows = await query<{ pg_is_in_recovery: boolean }>(url, "SELECT pg_is_in_recovery()");
  return rows[0]?.pg_is_in_recovery as boolean;
}

/** `in_hot_standby` as the server reports it to a new session (PostgreSQL 14+). */
async function reportedHotStandby(url: string): Promise<string> {
  const rows = await query<{ in_hot_standby: string }>(url, "SHOW in_hot_standby");
  return rows[0]?.in_hot_standby as string;
}

async function valuesOn(url: string): Promise<string[]> {
  const rows = await query<{ v: string }>(url, "SELECT v FROM replicated ORDER BY id");
  return rows.map((row) => row.v);
}

describe("startReplicationCluster: a primary and two streaming standbys", () => {
  let cluster: ReplicationCluster;
  afterAll(async () => {
    await cluster?.close();
  });

  it("starts, each node on its own port, never the machine's 5432", async () => {
    cluster = await startReplicationCluster({ standbys: 2 });
    const ports = cluster.nodes.map((node) => node.port);
    expect(new Set(ports).size).toBe(3);
    expect(ports).not.toContain(5432);
    expect(cluster.nodes).toEqual([cluster.primary, ...cluster.standbys]);
    expect(cluster.standbys.map((node) => node.name)).toEqual(["standby1", "standby2"]);
    expect(cluster.multiHostUrl({ target_session_attrs: "read-write" })).toBe(
      `postgres://postgres@${ports.map((port) => `127.0.0.1:${port}`).join(",")}/postgres?target_session_attrs=read-write`,
    );
    expect(cluster.primary.url).toBe(`postgres://postgres@127.0.0.1:${ports[0]}/postgres`);
    // the build LIFEGUARD_PG_MAJOR / LIFEGUARD_PG_BIN ask for, as the shared server's
    for (const node of cluster.nodes) {
      const [row] = await query<{ v: string }>(
        node.url,
        "SELECT current_setting('server_version_num') AS v",
      );
      expect(Math.floor(Number(row?.v) / 10_000)).toBe(inject("pgMajor"));
    }
  }, 120_000);

  it("a write on the primary is visible on each standby after waitForReplication()", async () => {
    await query(cluster.primary.url, "CREATE TABLE replicated (id serial PRIMARY KEY, v text)");
    await query(cluster.primary.url, "INSERT INTO replicated (v) VALUES ('one')");
    await cluster.waitForReplication();
    for (const standby of cluster.standbys) {
      expect(await valuesOn(standby.url)).toEqual(["one"]);
    }
    // and the standbys stream from the primary, each under its own name
    const streaming = await query<{ application_name: string }>(
      cluster.primary.url,
      "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1",
    );
    expect(streaming.map((row) => row.application_name)).toEqual(["standby1", "standby2"]);
  });

  it("in_hot_standby is off on the primary and on on the standbys; standbys refuse writes", async () => {
    expect(await reportedHotStandby(cluster.primary.url)).toBe("off");
    expect(await inHotStandby(cluster.primary.url)).toBe(false);
    for (const standby of cluster.standbys) {
      expect(await reportedHotStandby(standby.url)).toBe("on");
      expect(await inHotStandby(standby.url)).toBe(true);
      await expect(
        query(standby.url, "INSERT INTO replicated (v) VALUES ('no')"),
      ).rejects.toMatchObject({ code: "25006" });
    }
  });

  it("pauseReplay() makes a standby lag; resumeReplay() catches it up", async () => {
    const [lagging, other] = cluster.standbys as [
      ReplicationCluster["primary"],
      ReplicationCluster["primary"],
    ];
    await lagging.pauseReplay();
    const [written] = await query<{ at: Date }>(
      cluster.primary.url,
      "INSERT INTO replicated (v) VALUES ('two') RETURNING now() AS at",
    );
    // waitForReplication() does not wait for a paused standby, only for the others
    await cluster.waitForReplication();
    expect(await valuesOn(other.url)).toEqual(["one", "two"]);
    expect(await valuesOn(lagging.url)).toEqual(["one"]);
    const [behind] = await query<{ replayed: Date; paused: boolean }>(
      lagging.url,
      "SELECT pg_last_xact_replay_timestamp() AS replayed, pg_is_wal_replay_paused() AS paused",
    );
    expect(behind?.paused).toBe(true);
    expect(behind?.replayed.getTime()).toBeLessThan(written?.at.getTime() as number);

    await lagging.resumeReplay();
    await cluster.waitForReplication();
    expect(await valuesOn(lagging.url)).toEqual(["one", "two"]);
    const [caughtUp] = await query<{ replayed: Date }>(
      lagging.url,
      "SELECT pg_last_xact_replay_timestamp() AS replayed",
    );
    expect(caughtUp?.replayed.getTime()).toBeGreaterThanOrEqual(written?.at.getTime() as number);
  });

  it("a standby stopped (fast, then immediate) and started again catches up", async () => {
    const standby = cluster.standbys[0] as ReplicationCluster["primary"];
    for (const mode of ["fast", "immediate"] as const) {
      await standby.stop(mode);
      expect(standby.isRunning()).toBe(false);
      await expect(query(standby.url, "SELECT 1")).rejects.toMatchObject({
        code: "ECONNREFUSED",
      });
      await query(cluster.primary.url, "INSERT INTO replicated (v) VALUES ($1)", [mode]);
      await standby.start();
      expect(standby.isRunning()).toBe(true);
      await cluster.waitForReplication();
      expect((await valuesOn(standby.url)).at(-1)).toBe(mode);
      expect(await reportedHotStandby(standby.url)).toBe("on");
    }
  });

  it("promote() turns a standby into a writable primary", async () => {
    const promoted = cluster.standbys[1] as ReplicationCluster["primary"];
    await cluster.waitForReplication();
    await cluster.primary.stop();
    await promoted.promote();
    expect(await reportedHotStandby(promoted.url)).toBe("off");
    expect(await inHotStandby(promoted.url)).toBe(false);
    await query(promoted.url, "INSERT INTO replicated (v) VALUES ('after promotion')");
    expect((await valuesOn(promoted.url)).at(-1)).toBe("after promotion");
    // the promoted node is now the primary waitForReplication() measures against
    await cluster.waitForReplication();
    // a standby whose primary is gone can be promoted too (two primaries now: the test's choice)
    await expect(cluster.standbys[0]?.promote()).resolves.toBeUndefined();
    await expect(promoted.promote()).rejects.toThrow(/not a standby/);
  });

  it("close() stops every node", async () => {
    const nodes = [...cluster.nodes];
    await cluster.close();
    for (const node of nodes) {
      expect(node.isRunning()).toBe(false);
      await expect(query(node.url, "SELECT 1")).rejects.toMatchObject({ code: "ECONNREFUSED" });
    }
    await cluster.close();
  });
});

describe("startReplicationCluster: options", () => {
  it("refuses a major whose binaries are not installed, before starting anything", async () => {
    await expect(startReplicationCluster({ major: 11 })).rejects.toThrow(
      /PostgreSQL 11 binaries are not installed/,
    );
  });

  it.each([0, -1, 1.5, 9])("refuses standbys: %s", async (standbys) => {
    await expect(startReplicationCluster({ standbys })).rejects.toThrow(
      /standbys must be an integer from 1 to 8/,
    );
  });
});
