/**
 * Per-host series on a real streaming-replication cluster (a primary and two hot standbys,
 * test-fixtures' startReplicationCluster): a Cluster's writer and reader report their connections
 * by host, role and state, adding up to the per-pool series; the roles follow a standby stopped
 * (`down`) and a failover (the promoted standby becomes `primary`). docs/metrics.md ("Per host").
 */
import type { Cluster as ClusterType } from "@lifeguard/pg";
import { Cluster, Pool } from "@lifeguard/pg";
import { useReplicationCluster } from "@lifeguard/test-fixtures";
import { Registry } from "prom-client";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { LifeguardMetrics } from "../src/index.js";
import { registerLifeguardMetrics } from "../src/index.js";
import type { Exposition, Sample } from "./support/exposition.js";
import { parseExposition, sample } from "./support/exposition.js";

const replication = useReplicationCluster({ standbys: 2 });

let registry: Registry;
let metrics: LifeguardMetrics;
let cluster: ClusterType;
const WRITER = "hosts/writer";
const READER = "hosts/reader";

beforeAll(() => {
  registry = new Registry();
  metrics = registerLifeguardMetrics({ register: registry });
});

afterAll(async () => {
  await cluster?.end();
  metrics?.unregister();
});

async function scrape(): Promise<Exposition> {
  return parseExposition(await registry.metrics());
}

function samplesOf(x: Exposition, name: string, pool: string): Sample[] {
  return x.samples.filter((s) => s.name === name && s.labels["pool_name"] === pool);
}

/** The sum rule: per pool and state, the hosts' connections add up to the pool's. */
function expectHostsAddUp(x: Exposition, pool: string): void {
  for (const state of ["idle", "used"]) {
    const byHost = samplesOf(x, "lifeguard_host_connections", pool).filter(
      (s) => s.labels["state"] === state,
    );
    expect(byHost, `${pool} ${state}`).toHaveLength(3);
    const total = byHost.reduce((n, s) => n + s.value, 0);
    expect(total, `${pool} ${state}`).toBe(
      sample(x, "db_client_connection_count", { pool_name: pool, state }),
    );
  }
}

/** host_role by port, from lifeguard_host_up of one pool. */
function rolesOf(x: Exposition, pool: string): Record<string, string> {
  return Object.fromEntries(
    samplesOf(x, "lifeguard_host_up", pool).map((s) => [
      s.labels["server_port"],
      s.labels["host_role"],
    ]),
  );
}

function port(n: number): string {
  return String(n);
}

it("reports each pool's connections by host, role and state, adding up to the pool's", async () => {
  cluster = new Cluster({
    connectionString: replication.multiHostUrl(),
    name: "hosts",
    max: 3,
    reader: { max: 4 },
    maxReplicaLagMillis: 60_000,
    loadBalanceHosts: "disable",
  });
  await cluster.refresh();
  const w = [await cluster.writer.connect(), await cluster.writer.connect()];
  const r = [
    await cluster.reader.connect(),
    await cluster.reader.connect(),
    await cluster.reader.connect(),
  ];
  w[0]?.release();
  r[0]?.release();
  const x = await scrape();
  const primary = replication.primary;
  const [standby1, standby2] = replication.standbys;
  const hostLabels = (p: number, role: string) => ({
    server_address: "127.0.0.1",
    server_port: port(p),
    host_role: role,
  });
  // the writer: on the primary only
  expect(
    sample(x, "lifeguard_host_connections", {
      pool_name: WRITER,
      ...hostLabels(primary.port, "primary"),
      state: "idle",
    }),
  ).toBe(1);
  expect(
    sample(x, "lifeguard_host_connections", {
      pool_name: WRITER,
      ...hostLabels(primary.port, "primary"),
      state: "used",
    }),
  ).toBe(1);
  // the reader (prefer-standby, hosts in order): on standby1, nothing on the primary
  expect(
    sample(x, "lifeguard_host_connections", {
      pool_name: READER,
      ...hostLabels(primary.port, "primary"),
      state: "used",
    }),
  ).toBe(0);
  expect(
    sample(x, "lifeguard_host_connections", {
      pool_name: READER,
      ...hostLabels(standby1?.port as number, "standby"),
      state: "used",
    }),
  ).toBe(2);
  expectHostsAddUp(x, WRITER);
  expectHostsAddUp(x, READER);
  expect(rolesOf(x, READER)).toEqual({
    [port(primary.port)]: "primary",
    [port(standby1?.port as number)]: "standby",
    [port(standby2?.port as number)]: "standby",
  });
  for (const s of samplesOf(x, "lifeguard_host_up", WRITER)) expect(s.value).toBe(1);
  for (const s of samplesOf(x, "lifeguard_host_connect_failures", WRITER)) expect(s.value).toBe(0);
  // replay lag measured (maxReplicaLagMillis): an idle cluster's standbys are caught up
  expect(
    sample(x, "lifeguard_host_replica_lag_seconds", {
      pool_name: READER,
      ...hostLabels(standby2?.port as number, "standby"),
    }),
  ).toBe(0);
  // the exposition's own text, as prom-client renders one metric
  const text = await registry.getSingleMetricAsString("lifeguard_host_connections");
  expect(text).toContain(
    `lifeguard_host_connections{pool_name="${WRITER}",server_address="127.0.0.1",server_port="${primary.port}",host_role="primary",state="used"} 1`,
  );
  for (const client of [w[1], ...r.slice(1)]) client?.release();
  expectHostsAddUp(await scrape(), READER);
});

it("a pool on one host reports no per-host series", async () => {
  const single = new Pool({ connectionString: replication.primary.url, name: "single", max: 2 });
  try {
    await single.query("select 1");
    const x = await scrape();
    expect(sample(x, "db_client_connection_count", { pool_name: "single", state: "idle" })).toBe(1);
    expect(
      x.samples.filter(
        (s) => s.name.startsWith("lifeguard_host_") && s.labels["pool_name"] === "single",
      ),
    ).toEqual([]);
  } finally {
    await single.end();
  }
});

it("a standby stopped is reported down (up 0, its failed connects), and the sums still hold", async () => {
  const standby2 = replication.standbys[1];
  if (standby2 === undefined) throw new Error("two standbys expected");
  await standby2.stop();
  try {
    await cluster.refresh();
    const x = await scrape();
    const labels = {
      server_address: "127.0.0.1",
      server_port: port(standby2.port),
      host_role: "down",
    };
    for (const pool of [WRITER, READER]) {
      expect(rolesOf(x, pool)[port(standby2.port)]).toBe("down");
      expect(sample(x, "lifeguard_host_up", { pool_name: pool, ...labels })).toBe(0);
      expect(
        sample(x, "lifeguard_host_connect_failures", { pool_name: pool, ...labels }),
      ).toBeGreaterThanOrEqual(1);
      expectHostsAddUp(x, pool);
    }
  } finally {
    await standby2.start();
  }
});

it("after a failover the promoted standby is reported primary and the writer's connections move to it", async () => {
  const primary = replication.primary;
  const standby1 = replication.standbys[0];
  if (standby1 === undefined) throw new Error("two standbys expected");
  await primary.stop();
  await standby1.promote();
  // the writer finds the new primary (a failed attempt or two while it learns the roles)
  let wrote = false;
  for (let i = 0; i < 100 && !wrote; i++) {
    wrote = await cluster.writer.query("select 1").then(
      () => true,
      () => false,
    );
    if (!wrote) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(wrote).toBe(true);
  await cluster.refresh();
  const x = await scrape();
  const roles = rolesOf(x, WRITER);
  expect(roles[port(standby1.port)]).toBe("primary");
  expect(roles[port(primary.port)]).toBe("down");
  expect(
    sample(x, "lifeguard_host_connections", {
      pool_name: WRITER,
      server_address: "127.0.0.1",
      server_port: port(standby1.port),
      host_role: "primary",
      state: "idle",
    }),
  ).toBeGreaterThanOrEqual(1);
  expectHostsAddUp(x, WRITER);
  expectHostsAddUp(x, READER);
});
