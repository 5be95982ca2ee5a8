/**
 * The connection budget in cluster mode, on a real streaming-replication cluster (a primary and
 * two hot standbys, test-fixtures' startReplicationCluster): each host is checked once, when first
 * reached, against what it can receive from this process (a Cluster: writer.max + reader.max, one
 * check shared by both pools; a multi-host Pool: its max), and the warning or the
 * ConnectionBudgetError names the host. docs/cluster.md ("Budget").
 */
import { ConnectionBudgetError, DatabaseUnavailableError } from "@lifeguard/core";
import { useReplicationCluster } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, beforeAll, expect, it, vi } from "vitest";
import { Cluster, Pool } from "../../src/index.js";

const replication = useReplicationCluster({ standbys: 2 });

/** What every node allows applications (the nodes run the same settings). */
let available: number;
/** Instances such that instances × 3 fits and instances × (3 + 2) does not. */
let instances: number;

beforeAll(async () => {
  const client = new pg.Client({ connectionString: replication.primary.url });
  await client.connect();
  try {
    const { rows } = await client.query(
      "select current_setting('max_connections')::int as m, current_setting('superuser_reserved_connections')::int as s, coalesce(current_setting('reserved_connections', true), '0')::int as r",
    );
    const row = rows[0] as { m: number; s: number; r: number };
    available = row.m - row.s - row.r;
  } finally {
    await client.end();
  }
  instances = Math.floor(available / 3);
  // the premise of every test below
  expect(instances * 3).toBeLessThanOrEqual(available);
  expect(instances * 5).toBeGreaterThan(available);
});

const open: { end(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.end()));
  vi.restoreAllMocks();
});

function budgetWarnings(warn: { mock: { calls: unknown[][] } }): string[] {
  return warn.mock.calls
    .filter((call) => JSON.stringify(call).includes("LIFEGUARD_CONNECTION_BUDGET"))
    .map((call) => String(call[0]));
}

const hostOf = (port: number) => `127.0.0.1:${port}`;

it("a Cluster checks each host once against writer.max + reader.max, shared by its two pools", async () => {
  const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
  // hosts in order and a reader that takes any host: writer and reader both on the primary
  const cluster = new Cluster({
    connectionString: replication.multiHostUrl(),
    max: 3,
    reader: { max: 2 },
    readerTarget: "any",
    loadBalanceHosts: "disable",
    budget: { instances },
  });
  open.push(cluster);
  await cluster.writer.query("select 1");
  await cluster.reader.query("select 1");
  const clients = [await cluster.writer.connect(), await cluster.reader.connect()];
  for (const client of clients) client.release();
  const warnings = budgetWarnings(warn);
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toContain(`on host ${hostOf(replication.primary.port)}`);
  expect(warnings[0]).toContain(
    `${instances} instances × (writer max 3 + reader max 2) = ${instances * 5} connections, but host ${hostOf(replication.primary.port)} allows ${available}`,
  );
});

it("connects racing to a host share its one check", async () => {
  const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
  const cluster = new Cluster({
    connectionString: replication.multiHostUrl(),
    max: 3,
    reader: { max: 2 },
    readerTarget: "any",
    loadBalanceHosts: "disable",
    budget: { instances },
  });
  open.push(cluster);
  await cluster.refresh();
  // five connections opened at once, all to the primary, by both pools
  const clients = await Promise.all([
    cluster.writer.connect(),
    cluster.writer.connect(),
    cluster.writer.connect(),
    cluster.reader.connect(),
    cluster.reader.connect(),
  ]);
  for (const client of clients) client.release();
  const warnings = budgetWarnings(warn);
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toContain(`on host ${hostOf(replication.primary.port)}`);
});

it("each host is checked when first reached: the writer's primary and the reader's standby warn once each", async () => {
  const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
  const cluster = new Cluster({
    connectionString: replication.multiHostUrl(),
    max: 3,
    reader: { max: 2 },
    loadBalanceHosts: "disable",
    budget: { instances },
  });
  open.push(cluster);
  await cluster.refresh();
  await cluster.writer.query("select 1");
  expect(budgetWarnings(warn)).toHaveLength(1);
  for (let i = 0; i < 3; i++) await cluster.reader.query("select 1");
  const warnings = budgetWarnings(warn);
  expect(warnings).toHaveLength(2);
  expect(warnings[0]).toContain(`on host ${hostOf(replication.primary.port)}`);
  expect(warnings[1]).toContain(`on host ${hostOf(replication.standbys[0]?.port as number)}`);
});

it("a multi-host Pool checks each host against its own max", async () => {
  const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
  const within = new Pool({
    connectionString: replication.multiHostUrl({ target_session_attrs: "read-write" }),
    max: 3,
    budget: { instances },
  });
  open.push(within);
  await within.query("select 1");
  expect(budgetWarnings(warn)).toHaveLength(0);
  const over = new Pool({
    connectionString: replication.multiHostUrl({ target_session_attrs: "standby" }),
    max: 5,
    budget: { instances, enforce: true },
  });
  open.push(over);
  const error = await over.query("select 1").catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DatabaseUnavailableError);
  const cause = (error as Error).cause as ConnectionBudgetError;
  expect(cause).toBeInstanceOf(ConnectionBudgetError);
  expect(cause.needed).toBe(instances * 5);
  expect(cause.available).toBe(available);
  expect(replication.standbys.map((s) => hostOf(s.port))).toContain(cause.host);
  expect(cause.message).toContain(`on host ${cause.host}`);
  expect(over.totalCount).toBe(0);
});

it("with enforce, connects to a host over budget fail with ConnectionBudgetError naming it", async () => {
  const cluster = new Cluster({
    connectionString: replication.multiHostUrl(),
    max: 3,
    reader: { max: 2 },
    budget: { instances, enforce: true },
  });
  open.push(cluster);
  const error = await cluster.writer.query("select 1").catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DatabaseUnavailableError);
  const cause = (error as Error).cause as ConnectionBudgetError;
  expect(cause).toBeInstanceOf(ConnectionBudgetError);
  expect(cause.host).toBe(hostOf(replication.primary.port));
  expect(cause.needed).toBe(instances * 5);
  expect(cluster.writer.totalCount).toBe(0);
});

it("with enforce, a host over budget takes no more connects: later acquires fail with its error, no socket opened", async () => {
  let sockets = 0;
  class CountingClient extends pg.Client {
    // biome-ignore lint/suspicious/noExplicitAny: pg's overloads, passed through unchanged
    override connect(...args: any[]): any {
      // the pool's connections (the cluster's routing subclass), not the hosts' role probes
      if (this.constructor !== CountingClient) sockets++;
      // biome-ignore lint/suspicious/noExplicitAny: see above
      return (super.connect as (...a: any[]) => unknown)(...args);
    }
  }
  const pool = new Pool({
    connectionString: replication.multiHostUrl({ target_session_attrs: "read-write" }),
    Client: CountingClient,
    max: 5,
    budget: { instances, enforce: true },
  });
  open.push(pool);
  const first = await pool.query("select 1").catch((e: unknown) => e);
  expect((first as Error).cause).toBeInstanceOf(ConnectionBudgetError);
  const opened = sockets;
  expect(opened).toBeGreaterThan(0);
  // past the pool's back-off it connects again: the primary, the only writable host, is refused
  // before any socket is opened
  for (let i = 0; i < 200 && pool.stats().counters.createErrors < 2; i++) {
    await pool.query("select 1").catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(pool.stats().counters.createErrors).toBeGreaterThanOrEqual(2);
  expect(sockets).toBe(opened);
  const later = await pool.query("select 1").catch((e: unknown) => e);
  expect((later as Error).cause).toBeInstanceOf(ConnectionBudgetError);
  expect(((later as Error).cause as ConnectionBudgetError).host).toBe(
    hostOf(replication.primary.port),
  );
});

it("rejects a budget for the reader alone", () => {
  expect(
    () =>
      new Cluster({
        connectionString: replication.multiHostUrl(),
        reader: { budget: { instances: 2 } },
      }),
  ).toThrow(/"reader.budget": a Cluster has one budget across its hosts/);
});
