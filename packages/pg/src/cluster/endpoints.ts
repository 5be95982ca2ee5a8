import type { ClusterConfigFields } from "./conninfo.js";
import { parseClusterConfig } from "./conninfo.js";
import type { HostAddress, LoadBalanceHosts, TargetSessionAttrs } from "./target.js";

/** The hosts a configuration names, and the multi-host settings it carries. */
export interface Endpoints {
  readonly hosts: readonly HostAddress[];
  /** As given (in the connection string, the options or PGTARGETSESSIONATTRS); default `any`. */
  readonly targetSessionAttrs: TargetSessionAttrs;
  /** As given; default `disable`. */
  readonly loadBalanceHosts: LoadBalanceHosts;
  /**
   * The configuration each pg Client gets: the multi-host parts taken out, pointing at the first
   * host (each connection is pointed at its own host before it connects).
   */
  readonly config: Record<string, unknown>;
}

/** What may make a configuration multi-host: worth reading with the libpq-faithful parser. */
const MULTI_HOST_HINT = /,|target_session_attrs|load_balance_hosts/;

/**
 * The hosts of a pool configuration, read as libpq reads them (docs/cluster-conninfo.md): a
 * multi-host connection string (`postgres://h1,h2/db?target_session_attrs=read-write`),
 * `host: "h1,h2"` with `port: "5432,5433"`, `targetSessionAttrs` / `loadBalanceHosts`.
 * Undefined for a configuration that names one host and no multi-host setting, unless `force`:
 * such a pool works exactly as it always did (pg reads its configuration itself).
 * @internal
 */
export function endpointsOf(
  config: Record<string, unknown>,
  force: boolean,
): Endpoints | undefined {
  const hinted =
    force ||
    config["targetSessionAttrs"] !== undefined ||
    config["loadBalanceHosts"] !== undefined ||
    [config["connectionString"], config["host"], config["port"], process.env["PGHOST"]].some(
      (value) => typeof value === "string" && MULTI_HOST_HINT.test(value),
    );
  if (!hinted) return undefined;
  const parsed = parseClusterConfig(config as ClusterConfigFields, { env: process.env });
  const multi =
    parsed.hosts.length > 1 ||
    parsed.targetSessionAttrs !== "any" ||
    parsed.loadBalanceHosts !== "disable";
  if (!multi && !force) return undefined;
  const hosts: HostAddress[] = parsed.hosts.map((h) =>
    h.hostaddr !== undefined && h.host !== h.hostaddr && !h.host.startsWith("/")
      ? { host: h.hostaddr, port: h.port, servername: h.host }
      : { host: h.hostaddr ?? h.host, port: h.port },
  );
  const first = hosts[0] as HostAddress;
  return {
    hosts,
    targetSessionAttrs: parsed.targetSessionAttrs,
    loadBalanceHosts: parsed.loadBalanceHosts,
    config: { ...parsed.rest, host: first.host, port: first.port },
  };
}
