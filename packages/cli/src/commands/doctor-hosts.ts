import type { ClusterConfig, ClusterHost, TargetSessionAttrs } from "@lifeguard/pg/internal";
import { clusterHostConfig } from "@lifeguard/pg/internal";
import pg from "pg";

/** One host of a multi-host URL as `lifeguard doctor` found it. */
export interface DoctorHost {
  /** `host:port` as given (`[::1]:5432` for IPv6). */
  readonly address: string;
  /** `down`: no session could be opened (see `error`). */
  readonly role: "primary" | "standby" | "down";
  /** `default_transaction_read_only` is on: libpq's `read-write` skips the host even as a primary. */
  readonly readOnly: boolean;
  /** Why the host is down: the connect error's code and message. */
  readonly error?: string;
  /** A standby's replay: how far behind what it has received. Absent on a primary or a down host. */
  readonly replay?: {
    /**
     * Seconds since the last replayed transaction's commit, or 0 when everything received is
     * replayed (an idle primary sends nothing to replay); null before any transaction was replayed.
     */
    readonly lagSeconds: number | null;
    /** WAL received and not yet replayed, in bytes; null when nothing was received by streaming. */
    readonly bytesBehind: number | null;
    /** `pg_wal_replay_pause()` is in effect. */
    readonly paused: boolean;
  };
}

/** The host part of a multi-host doctor report. */
export interface DoctorHosts {
  readonly targetSessionAttrs: TargetSessionAttrs;
  readonly loadBalanceHosts: "disable" | "random";
  readonly hosts: readonly DoctorHost[];
  /**
   * The hosts a new session with this `target_session_attrs` may use, in the order libpq tries
   * them (any of them with `load_balance_hosts=random`). Empty: a connect would fail.
   */
  readonly eligible: readonly string[];
}

const CONNECT_TIMEOUT_MILLIS = 5_000;

/** Asks every host, in parallel, for its role and (on a standby) its replay lag. */
export async function inspectHosts(config: ClusterConfig): Promise<DoctorHosts> {
  const hosts = await Promise.all(config.hosts.map((host) => inspectHost(config, host)));
  return {
    targetSessionAttrs: config.targetSessionAttrs,
    loadBalanceHosts: config.loadBalanceHosts,
    hosts,
    eligible: eligibleHosts(hosts, config.targetSessionAttrs).map((h) => h.address),
  };
}

/** libpq's choice for each `target_session_attrs` (PostgreSQL docs, "Parameter Key Words"). */
export function eligibleHosts(
  hosts: readonly DoctorHost[],
  target: TargetSessionAttrs,
): DoctorHost[] {
  const up = hosts.filter((h) => h.role !== "down");
  switch (target) {
    case "any":
      return up;
    case "read-write":
      return up.filter((h) => h.role === "primary" && !h.readOnly);
    case "read-only":
      return up.filter((h) => h.role === "standby" || h.readOnly);
    case "primary":
      return up.filter((h) => h.role === "primary");
    case "standby":
      return up.filter((h) => h.role === "standby");
    case "prefer-standby": {
      const standbys = up.filter((h) => h.role === "standby");
      return standbys.length > 0 ? standbys : up;
    }
  }
}

function addressOf(host: ClusterHost): string {
  return `${host.host.includes(":") ? `[${host.host}]` : host.host}:${host.port}`;
}

async function inspectHost(config: ClusterConfig, host: ClusterHost): Promise<DoctorHost> {
  const address = addressOf(host);
  const client = new pg.Client({
    ...clusterHostConfig(config, host),
    application_name: "lifeguard doctor",
    connectionTimeoutMillis: CONNECT_TIMEOUT_MILLIS,
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    return {
      address,
      role: "down",
      readOnly: false,
      error: [code, message].filter(Boolean).join(": "),
    };
  }
  try {
    // pg_is_in_recovery() rather than in_hot_standby: the same answer, and on every major
    const { rows } = await client.query<{
      in_recovery: boolean;
      read_only: string;
      lag_seconds: number | null;
      bytes_behind: string | null;
      paused: boolean | null;
    }>(
      `select pg_is_in_recovery() as in_recovery,
              current_setting('default_transaction_read_only') as read_only,
              case when not pg_is_in_recovery() then null
                   when pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() then 0
                   else extract(epoch from now() - pg_last_xact_replay_timestamp())::float8
              end as lag_seconds,
              case when pg_is_in_recovery()
                   then pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text
              end as bytes_behind,
              case when pg_is_in_recovery() then pg_is_wal_replay_paused() end as paused`,
    );
    const row = rows[0];
    const readOnly = row?.read_only === "on";
    if (row?.in_recovery !== true) return { address, role: "primary", readOnly };
    return {
      address,
      role: "standby",
      readOnly,
      replay: {
        lagSeconds: row.lag_seconds === null ? null : Math.max(0, row.lag_seconds),
        bytesBehind: row.bytes_behind === null ? null : Math.max(0, Number(row.bytes_behind)),
        paused: row.paused === true,
      },
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** What the host list means for a pool, one finding per problem. */
export function hostFindings(report: DoctorHosts): string[] {
  const findings: string[] = [];
  for (const host of report.hosts) {
    if (host.role === "down") {
      findings.push(`${host.address} is down (${host.error}): a pool skips it until it is back.`);
    }
    if (host.replay?.paused === true) {
      findings.push(
        `${host.address} has WAL replay paused (pg_wal_replay_pause()): its reads fall further behind until pg_wal_replay_resume().`,
      );
    }
  }
  if (report.eligible.length === 0) {
    findings.push(
      `no host is ${report.targetSessionAttrs === "any" ? "up" : `eligible for target_session_attrs=${report.targetSessionAttrs}`}: a new connection would fail.`,
    );
  }
  if (!report.hosts.some((h) => h.role === "primary")) {
    findings.push("no host is a primary: writes fail until one is promoted.");
  }
  if (report.hosts.filter((h) => h.role === "primary").length > 1) {
    findings.push(
      "more than one host is a primary: a promoted standby's old primary is back, or the hosts belong to different clusters. Writes may land on either.",
    );
  }
  return findings;
}

/** The host table for a terminal. */
export function formatHosts(report: DoctorHosts): string[] {
  const target = `target_session_attrs=${report.targetSessionAttrs}${report.loadBalanceHosts === "random" ? ", load_balance_hosts=random" : ""}`;
  const chosen =
    report.eligible.length === 0
      ? "no host"
      : report.loadBalanceHosts === "random"
        ? `any of ${report.eligible.join(", ")}`
        : (report.eligible[0] as string);
  const width = Math.max(...report.hosts.map((h) => h.address.length), 12);
  return [
    `hosts (${target}: a new session goes to ${chosen}):`,
    ...report.hosts.map((h) => `  ${h.address.padEnd(width)}  ${h.role.padEnd(8)} ${detail(h)}`),
  ];
}

function detail(host: DoctorHost): string {
  if (host.role === "down") return host.error ?? "";
  const parts: string[] = [];
  if (host.readOnly) parts.push("default_transaction_read_only on");
  const replay = host.replay;
  if (replay !== undefined) {
    parts.push(
      replay.lagSeconds === null
        ? "nothing replayed yet"
        : `replay lag ${replay.lagSeconds.toFixed(1)} s`,
    );
    if (replay.bytesBehind !== null) parts.push(`${formatBytes(replay.bytesBehind)} behind`);
    if (replay.paused) parts.push("replay paused");
  }
  return parts.join(", ");
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
