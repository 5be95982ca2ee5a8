/**
 * Per-host points on a real streaming-replication cluster (a primary and two hot standbys,
 * test-fixtures' startReplicationCluster), through both ways of attaching (instrumentLifeguard and
 * the MetricProducer) into the SDK's in-memory exporter: connections by host, role and state adding
 * up to db.client.connection.count, and the role attribute following a standby stopped (`down`)
 * and a failover. docs/metrics.md ("Per host").
 */
import type { Cluster as ClusterType } from "@lifeguard/pg";
import { Cluster } from "@lifeguard/pg";
import { useReplicationCluster } from "@lifeguard/test-fixtures";
import type { Attributes } from "@opentelemetry/api";
import type {
  DataPoint,
  GaugeMetricData,
  MetricData,
  SumMetricData,
} from "@opentelemetry/sdk-metrics";
import { DataPointType } from "@opentelemetry/sdk-metrics";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  ATTR_HOST_ROLE,
  ATTR_POOL_NAME,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_STATE,
} from "../src/index.js";
import type { Mode, Pipeline } from "./support/collect.js";
import { metric, pipeline, sumPoint } from "./support/collect.js";

const replication = useReplicationCluster({ standbys: 2 });
const modes: Mode[] = ["instrumentLifeguard", "createLifeguardMetricProducer"];
const pipelines = new Map<Mode, Pipeline>();
let cluster: ClusterType;
const WRITER = "otel-hosts/writer";
const READER = "otel-hosts/reader";

beforeAll(() => {
  for (const mode of modes) pipelines.set(mode, pipeline(mode));
});

afterAll(async () => {
  await cluster?.end();
  for (const p of pipelines.values()) await p.shutdown();
});

function points(metrics: readonly MetricData[], name: string, pool: string): DataPoint<number>[] {
  const m = metric(metrics, name) as SumMetricData | GaugeMetricData;
  return m.dataPoints.filter((p) => p.attributes[ATTR_POOL_NAME] === pool);
}

/**
 * The sum rule: per pool and state, the hosts' connections add up to the pool's. With
 * instrumentLifeguard the SDK keeps the points of a host's earlier roles: they read 0, so the sum
 * over every point is still the pool's.
 */
function expectHostsAddUp(metrics: readonly MetricData[], pool: string): void {
  for (const state of ["idle", "used"]) {
    const byHost = points(metrics, "lifeguard.host.connection.count", pool).filter(
      (p) => p.attributes[ATTR_STATE] === state,
    );
    expect(new Set(byHost.map((p) => p.attributes[ATTR_SERVER_PORT])).size).toBe(3);
    expect(byHost.reduce((n, p) => n + p.value, 0)).toBe(
      sumPoint(metrics, "db.client.connection.count", {
        [ATTR_POOL_NAME]: pool,
        [ATTR_STATE]: state,
      }),
    );
  }
}

/**
 * The host's role now: the only role its points carry through the MetricProducer; through
 * instrumentLifeguard, earlier roles may remain, every one of their points at 0.
 */
function expectRole(
  metrics: readonly MetricData[],
  pool: string,
  port: number,
  role: string,
  mode: Mode,
): void {
  const names = [
    "lifeguard.host.connection.count",
    "lifeguard.host.up",
    "lifeguard.host.connect_failures",
  ];
  const atPort = names.flatMap((name) =>
    points(metrics, name, pool).filter((p) => p.attributes[ATTR_SERVER_PORT] === port),
  );
  expect(
    atPort.some((p) => p.attributes[ATTR_HOST_ROLE] === role),
    `${mode} ${port} ${role}`,
  ).toBe(true);
  const earlier = atPort.filter((p) => p.attributes[ATTR_HOST_ROLE] !== role);
  if (mode === "createLifeguardMetricProducer") expect(earlier, mode).toEqual([]);
  for (const p of earlier) expect(p.value, `${mode} ${JSON.stringify(p.attributes)}`).toBe(0);
}

function host(pool: string, port: number, role: string): Attributes {
  return {
    [ATTR_POOL_NAME]: pool,
    [ATTR_SERVER_ADDRESS]: "127.0.0.1",
    [ATTR_SERVER_PORT]: port,
    [ATTR_HOST_ROLE]: role,
  };
}

/** The value of the gauge point with exactly these attributes. */
function gaugePoint(metrics: readonly MetricData[], name: string, attributes: Attributes): number {
  const m = metric(metrics, name) as GaugeMetricData;
  expect(m.dataPointType).toBe(DataPointType.GAUGE);
  const found = m.dataPoints.filter(
    (p) =>
      Object.keys(p.attributes).length === Object.keys(attributes).length &&
      Object.entries(attributes).every(([k, v]) => p.attributes[k] === v),
  );
  expect(found, `${name} ${JSON.stringify(attributes)}`).toHaveLength(1);
  return (found[0] as DataPoint<number>).value;
}

async function collectEach(check: (metrics: MetricData[], mode: Mode) => void): Promise<void> {
  for (const [mode, p] of pipelines) check(await p.collect(), mode);
}

it("reports each pool's connections by host, role and state, adding up to the pool's", async () => {
  cluster = new Cluster({
    connectionString: replication.multiHostUrl(),
    name: "otel-hosts",
    max: 3,
    reader: { max: 4 },
    loadBalanceHosts: "disable",
  });
  await cluster.refresh();
  const w = [await cluster.writer.connect(), await cluster.writer.connect()];
  const r = [await cluster.reader.connect(), await cluster.reader.connect()];
  w[0]?.release();
  const primary = replication.primary.port;
  const standby1 = replication.standbys[0]?.port as number;
  const standby2 = replication.standbys[1]?.port as number;
  await collectEach((metrics, mode) => {
    const count = (pool: string, port: number, role: string, state: string) =>
      sumPoint(metrics, "lifeguard.host.connection.count", {
        ...host(pool, port, role),
        [ATTR_STATE]: state,
      });
    expect(count(WRITER, primary, "primary", "idle"), mode).toBe(1);
    expect(count(WRITER, primary, "primary", "used"), mode).toBe(1);
    expect(count(READER, standby1, "standby", "used"), mode).toBe(2);
    expect(count(READER, standby2, "standby", "used"), mode).toBe(0);
    expectHostsAddUp(metrics, WRITER);
    expectHostsAddUp(metrics, READER);
    expectRole(metrics, WRITER, primary, "primary", mode);
    expectRole(metrics, WRITER, standby1, "standby", mode);
    expectRole(metrics, READER, standby2, "standby", mode);
    const up = metric(metrics, "lifeguard.host.up");
    expect(up.dataPointType, mode).toBe(DataPointType.GAUGE);
    for (const p of points(metrics, "lifeguard.host.up", READER)) expect(p.value, mode).toBe(1);
    for (const p of points(metrics, "lifeguard.host.connect_failures", READER)) {
      expect(p.value, mode).toBe(0);
    }
  });
  for (const client of [w[1], ...r]) client?.release();
});

it("a standby stopped is reported down, and the sums still hold", async () => {
  const standby2 = replication.standbys[1];
  if (standby2 === undefined) throw new Error("two standbys expected");
  await standby2.stop();
  try {
    await cluster.refresh();
    await collectEach((metrics, mode) => {
      expectRole(metrics, READER, standby2.port, "down", mode);
      const down = host(READER, standby2.port, "down");
      expect(gaugePoint(metrics, "lifeguard.host.up", down), mode).toBe(0);
      expect(
        gaugePoint(metrics, "lifeguard.host.connect_failures", down),
        mode,
      ).toBeGreaterThanOrEqual(1);
      expectHostsAddUp(metrics, WRITER);
      expectHostsAddUp(metrics, READER);
    });
  } finally {
    await standby2.start();
  }
});

it("after a failover the role attributes follow: the promoted standby is primary, the old one down", async () => {
  const primary = replication.primary;
  const standby1 = replication.standbys[0];
  if (standby1 === undefined) throw new Error("two standbys expected");
  await primary.stop();
  await standby1.promote();
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
  await collectEach((metrics, mode) => {
    expectRole(metrics, WRITER, standby1.port, "primary", mode);
    expectRole(metrics, WRITER, primary.port, "down", mode);
    expect(
      sumPoint(metrics, "lifeguard.host.connection.count", {
        ...host(WRITER, standby1.port, "primary"),
        [ATTR_STATE]: "idle",
      }),
      mode,
    ).toBeGreaterThanOrEqual(1);
    expectHostsAddUp(metrics, WRITER);
  });
});
