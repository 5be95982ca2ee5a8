// The per-host gauges of a pool spread over several hosts (cluster mode, docs/cluster.md): new
// metric names beside the per-pool ones, so summing any one metric never counts a connection twice
// (docs/metrics.md, "Per host").
import type { ServerStats } from "@lifeguard/core";
import type { Gauge } from "prom-client";

/** The labels of one host of one pool, built at scrape time (roles change). */
export type HostLabels = {
  readonly pool_name: string;
  readonly server_address: string;
  readonly server_port: string;
  readonly host_role: string;
};

export function hostLabels(pool_name: string, server: ServerStats): HostLabels {
  return {
    pool_name,
    server_address: server.address,
    server_port: String(server.port),
    host_role: server.role,
  };
}

export interface HostGaugeSpec {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly set: (gauge: Gauge, labels: HostLabels, server: ServerStats) => void;
}

const hostLabelNames = ["pool_name", "server_address", "server_port", "host_role"] as const;

export const hostGauges: readonly HostGaugeSpec[] = [
  {
    name: "lifeguard_host_connections",
    help: "A multi-host pool's open connections by host (server_address, server_port, host_role) and state (idle, used); per pool they add up to db_client_connection_count.",
    labelNames: [...hostLabelNames, "state"],
    set(gauge, labels, server) {
      gauge.set({ ...labels, state: "idle" }, server.idle);
      gauge.set({ ...labels, state: "used" }, server.used);
    },
  },
  {
    name: "lifeguard_host_up",
    help: "1 when the host answered and its role is known (primary or standby), 0 when its connects fail (down) or it was not reached yet (unknown); as the pool sees it.",
    labelNames: hostLabelNames,
    set: (gauge, labels, server) => gauge.set(labels, server.up ? 1 : 0),
  },
  {
    name: "lifeguard_host_replica_lag_seconds",
    help: "A standby's replay lag at the last recheck (measured only with maxReplicaLagMillis).",
    labelNames: hostLabelNames,
    set(gauge, labels, server) {
      if (server.lagSeconds !== undefined) gauge.set(labels, server.lagSeconds);
    },
  },
  {
    name: "lifeguard_host_connect_failures",
    help: "Consecutive failed connects to the host (0 once it answers again); the host is skipped during its back-off.",
    labelNames: hostLabelNames,
    set: (gauge, labels, server) => gauge.set(labels, server.connectFailures),
  },
];

/** The metrics reported per host of a multi-host pool (none for a single-host pool). */
export const hostMetricNames: readonly string[] = Object.freeze(hostGauges.map((g) => g.name));
