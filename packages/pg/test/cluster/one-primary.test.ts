/**
 * Cluster mode against the harness's one server (a primary) plus a host nobody listens on: what
 * can be proven without replication. The replication scenarios are in the other files here.
 */
import { createServer } from "node:net";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, Pool, WriteOnReaderError } from "../../src/index.js";

const db = useTestDatabase();

/** A port nothing listens on: connects to it are refused. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function parts(url: string) {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port),
    user: decodeURIComponent(u.username),
    database: u.pathname.slice(1),
  };
}

const open: { end(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.end()));
});

describe("a cluster of one primary and a host that refuses connections", () => {
  it("sends writes and reads to the primary, and skips the refusing host with a back-off", async () => {
    const { host, port, user, database } = parts(db.url);
    const dead = await deadPort();
    const cluster = new Cluster({
      host: `127.0.0.1,${host}`,
      port: `${dead},${port}`,
      user,
      database,
      loadBalanceHosts: "disable",
      max: 4,
    });
    open.push(cluster);
    await cluster.writer.query("create table t (id int)");
    await cluster.writer.query("insert into t values (1)");
    const { rows } = await cluster.reader.query("select count(*)::int as n from t");
    expect(rows[0].n).toBe(1);
    const hosts = cluster.hosts();
    expect(hosts.map((h) => h.role)).toEqual(["down", "primary"]);
    expect(hosts[0]?.failures).toBeGreaterThanOrEqual(1);
    // the refused host is not tried again on every acquire: its back-off holds
    const failures = hosts[0]?.failures ?? 0;
    for (let i = 0; i < 20; i++) await cluster.reader.query("select 1");
    expect(cluster.hosts()[0]?.failures).toBe(failures);
    expect(hosts[1]?.connections["read-write"]).toBeGreaterThanOrEqual(1);
  });

  it("routes a statement the reader cannot prove read-only to the writer, and a borrowed reader client refuses it", async () => {
    const { host, port, user, database } = parts(db.url);
    const cluster = new Cluster({ host, port, user, database, max: 2 });
    open.push(cluster);
    await cluster.writer.query("create table if not exists w (id int)");
    // a write CTE through reader.query(): sent to the writer, where it succeeds
    const cte = await cluster.reader.query(
      "with x as (insert into w values (7) returning id) select id from x",
    );
    expect(cte.rows).toEqual([{ id: 7 }]);
    const client = await cluster.reader.connect();
    try {
      await expect(client.query("insert into w values (8)")).rejects.toBeInstanceOf(
        WriteOnReaderError,
      );
      await client.query("begin");
      const { rows } = await client.query("select count(*)::int as n from w");
      expect(rows[0].n).toBe(1);
      await client.query("commit");
    } finally {
      client.release();
    }
    const { rows } = await cluster.writer.query("select count(*)::int as n from w");
    expect(rows[0].n).toBe(1);
  });

  it("sticky(): after a write, the request's reads go to the writer", async () => {
    const { host, port, user, database } = parts(db.url);
    const cluster = new Cluster({ host, port, user, database, max: 2, reader: { max: 1 } });
    open.push(cluster);
    const readerPid = (await cluster.reader.query("select pg_backend_pid() as pid")).rows[0].pid;
    await cluster.sticky(async () => {
      const before = (await cluster.reader.query("select pg_backend_pid() as pid")).rows[0].pid;
      expect(before).toBe(readerPid);
      const writerPid = (await cluster.writer.query("select pg_backend_pid() as pid")).rows[0].pid;
      const after = (await cluster.reader.query("select pg_backend_pid() as pid")).rows[0].pid;
      expect(after).toBe(writerPid);
    });
    const outside = (await cluster.reader.query("select pg_backend_pid() as pid")).rows[0].pid;
    expect(outside).toBe(readerPid);
  });

  it("a multi-host Pool with target_session_attrs=standby finds no standby and says so", async () => {
    const { host, port, user, database } = parts(db.url);
    const pool = new Pool({
      host,
      port,
      user,
      database,
      targetSessionAttrs: "standby",
      acquireTimeoutMillis: 600,
    });
    open.push(pool);
    const error = await pool.query("select 1").then(
      () => undefined,
      (e: Error) => e,
    );
    // no host can ever match: the connect fails with why, and the pool fails fast from then on
    expect((error as { code?: string }).code).toBe("LIFEGUARD_DB_UNAVAILABLE");
    expect(String((error?.cause as Error | undefined)?.message)).toMatch(
      /No host matches target_session_attrs=standby .*primary/,
    );
  });

  it("rejects bad cluster options, naming the option and what it accepts", () => {
    expect(() => new Cluster({ host: "a,b", readerTarget: "primary" as never })).toThrow(
      /readerTarget.*"prefer-standby", "standby", "read-only" or "any"/,
    );
    expect(
      () => new Pool({ host: "a,b", user: "u", targetSessionAttrs: "master" as never }),
    ).toThrow(/targetSessionAttrs.*"any", "read-write"/);
    expect(() => new Pool({ host: "a,b,c", port: "1,2", user: "u" })).toThrow(
      /2 ports \("port"\) for 3 hosts/,
    );
    expect(() => new Cluster({ host: "a,b", user: "u", hostRecheckMillis: 5 })).toThrow(
      /hostRecheckMillis/,
    );
  });
});
