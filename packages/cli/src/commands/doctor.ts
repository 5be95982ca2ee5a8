import type { ClusterConfig, ClusterHost } from "@lifeguard/pg/internal";
import { clusterHostConfig, parseClusterConfig } from "@lifeguard/pg/internal";
import pg from "pg";
import { type DoctorHosts, formatHosts, hostFindings, inspectHosts } from "./doctor-hosts.js";

/** What `lifeguard doctor` found on a server. */
export interface DoctorReport {
  readonly server: { readonly version: string; readonly versionNum: number };
  readonly connections: {
    readonly max: number;
    readonly superuserReserved: number;
    readonly reserved: number;
    /** Connections applications may open: max − the reserved slots. */
    readonly available: number;
    readonly inUse: number;
    readonly byApplication: readonly {
      readonly application: string;
      readonly state: string;
      readonly count: number;
    }[];
  };
  readonly timeouts: Readonly<Record<string, string>>;
  /** Recommended `max` per instance for the given number of instances. */
  readonly recommendedMax: number;
  readonly instances: number;
  readonly findings: readonly string[];
  /**
   * With a multi-host URL (`postgres://h1:5432,h2:5432/db`, `host=h1,h2`): each host's role and
   * replay lag; the rest of the report is about `detailsFrom`, the first host a new session with
   * the URL's `target_session_attrs` would use (or the first host up).
   */
  readonly cluster?: DoctorHosts & { readonly detailsFrom: string };
}

const timeoutSettings = [
  "idle_session_timeout",
  "idle_in_transaction_session_timeout",
  "statement_timeout",
  "tcp_keepalives_idle",
  "tcp_keepalives_interval",
  "tcp_keepalives_count",
  "tcp_user_timeout",
] as const;

/**
 * Reads a server's limits and timeouts and says what they mean for a pool. A URL with several
 * hosts (libpq's syntax) also reports each host's role and replay lag (`cluster`).
 */
export async function doctor(
  url: string,
  options: { instances?: number } = {},
): Promise<DoctorReport> {
  const instances = options.instances ?? 1;
  const config = multiHostConfig(url);
  if (config === undefined) return await inspectServer({ connectionString: url }, instances);
  const hosts = await inspectHosts(config);
  const up = hosts.hosts.filter((h) => h.role !== "down").map((h) => h.address);
  const detailsFrom = hosts.eligible[0] ?? up[0];
  if (detailsFrom === undefined) {
    throw new Error(
      `no host is up: ${hosts.hosts.map((h) => `${h.address} (${h.error})`).join("; ")}`,
    );
  }
  const index = hosts.hosts.findIndex((h) => h.address === detailsFrom);
  const report = await inspectServer(
    clusterHostConfig(config, config.hosts[index] as ClusterHost),
    instances,
  );
  return {
    ...report,
    findings: [...hostFindings(hosts), ...report.findings],
    cluster: { ...hosts, detailsFrom },
  };
}

/**
 * The URL's cluster configuration when it names several hosts. A single host keeps the path
 * doctor always had (pg reads the URL), also for URLs libpq's rules refuse but pg accepts.
 */
function multiHostConfig(url: string): ClusterConfig | undefined {
  let config: ClusterConfig;
  try {
    config = parseClusterConfig(url, { env: process.env });
  } catch (error) {
    if (url.includes(",")) throw error;
    return undefined;
  }
  return config.hosts.length > 1 ? config : undefined;
}

async function inspectServer(
  clientConfig: pg.ClientConfig,
  instances: number,
): Promise<DoctorReport> {
  const client = new pg.Client({ ...clientConfig, application_name: "lifeguard doctor" });
  client.on("error", () => undefined);
  await client.connect();
  try {
    const settings = await client.query<{ name: string; setting: string; unit: string | null }>(
      "select name, setting, unit from pg_settings where name = any($1::text[])",
      [
        [
          "max_connections",
          "superuser_reserved_connections",
          "reserved_connections",
          "server_version_num",
          ...timeoutSettings,
        ],
      ],
    );
    const get = (name: string) => settings.rows.find((r) => r.name === name);
    const num = (name: string) => Number(get(name)?.setting ?? 0);
    const version = (await client.query<{ v: string }>("select version() as v")).rows[0]?.v ?? "";
    const byApplication = (
      await client.query<{ application: string; state: string; count: number }>(
        "select coalesce(nullif(application_name, ''), '(none)') as application, coalesce(state, 'unknown') as state, count(*)::int as count from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid() group by 1, 2 order by 3 desc, 1",
      )
    ).rows;
    const max = num("max_connections");
    const superuserReserved = num("superuser_reserved_connections");
    const reserved = num("reserved_connections");
    const available = max - superuserReserved - reserved;
    const inUse = byApplication.reduce((sum, row) => sum + row.count, 0);
    // leave a fifth of the slots for migrations, consoles, deploy overlap (old and new instances)
    const recommendedMax = Math.max(1, Math.floor((available * 0.8) / instances));
    const timeouts: Record<string, string> = {};
    for (const name of timeoutSettings) {
      const row = get(name);
      if (row !== undefined)
        timeouts[name] =
          `${row.setting}${row.unit !== null && row.setting !== "0" ? ` ${row.unit}` : ""}`;
    }
    const findings: string[] = [];
    const idleSession = num("idle_session_timeout");
    if (idleSession > 0) {
      findings.push(
        `idle_session_timeout is ${idleSession} ms: the server closes connections idle that long. Keep idleTimeoutMillis below it (Lifeguard's default is 10000), or pre-ping (on by default) replaces them after the fact.`,
      );
    }
    if (num("idle_in_transaction_session_timeout") === 0) {
      findings.push(
        "idle_in_transaction_session_timeout is off: a leaked open transaction holds its locks until Lifeguard rolls it back on release. Consider setting it (e.g. 60s) as a server-side backstop.",
      );
    }
    if (num("tcp_keepalives_idle") === 0 || num("tcp_keepalives_idle") > 600) {
      findings.push(
        "TCP keepalives use the OS default (often 2 hours): a NAT or firewall that drops idle flows sooner cuts idle connections silently. Pre-ping catches them; also set maxLifetimeSeconds below the network's idle timeout and pass keepAlive: true to pg.",
      );
    }
    if (inUse > available * 0.8) {
      findings.push(
        `${inUse} of ${available} available connections are in use: little room for another pool or a deploy's overlap.`,
      );
    }
    return {
      server: { version, versionNum: num("server_version_num") },
      connections: { max, superuserReserved, reserved, available, inUse, byApplication },
      timeouts,
      recommendedMax,
      instances,
      findings,
    };
  } finally {
    await client.end();
  }
}

/** The report as text for a terminal. */
export function formatDoctor(report: DoctorReport): string {
  const c = report.connections;
  const lines = [
    ...(report.cluster === undefined
      ? []
      : [...formatHosts(report.cluster), "", `details from ${report.cluster.detailsFrom}:`]),
    `server        ${report.server.version}`,
    `connections   max ${c.max}, reserved ${c.superuserReserved} (superuser) + ${c.reserved}, available ${c.available}, in use ${c.inUse}`,
    "",
    "in use by application:",
    ...(c.byApplication.length === 0
      ? ["  (none)"]
      : c.byApplication.map(
          (r) => `  ${r.application.padEnd(30)} ${r.state.padEnd(22)} ${r.count}`,
        )),
    "",
    "timeouts that interact with a pool:",
    ...Object.entries(report.timeouts).map(([name, value]) => `  ${name.padEnd(38)} ${value}`),
    "",
    `recommended max per instance (${report.instances} instance${report.instances === 1 ? "" : "s"}): ${report.recommendedMax}`,
    "  (80% of the available slots, divided among instances: the rest is room for migrations, consoles and deploy overlap)",
  ];
  if (report.findings.length > 0)
    lines.push("", "findings:", ...report.findings.map((f) => `  - ${f}`));
  return `${lines.join("\n")}\n`;
}
