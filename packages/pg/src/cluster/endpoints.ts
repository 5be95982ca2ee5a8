import { InvalidOptionError } from "@lifeguard/core";
import type { HostAddress, LoadBalanceHosts, TargetSessionAttrs } from "./target.js";

/** The hosts a configuration names, and the multi-host settings it carries. */
export interface Endpoints {
  readonly hosts: readonly HostAddress[];
  /** From the connection string (`target_session_attrs=`), when it has one. */
  readonly targetSessionAttrs: TargetSessionAttrs | undefined;
  /** From the connection string (`load_balance_hosts=`), when it has one. */
  readonly loadBalanceHosts: LoadBalanceHosts | undefined;
  /**
   * The configuration each pg Client gets: the multi-host parts taken out, pointing at the first
   * host (each connection is pointed at its own host before it connects).
   */
  readonly config: Record<string, unknown>;
}

const DEFAULT_PORT = 5432;

/**
 * The hosts of a pool configuration: `host: "h1,h2"` with `port: "5432,5433"` (or one port for
 * all), or a multi-host connection string, read as libpq reads it. Undefined for a configuration
 * that names one host and no multi-host setting: the pool then works as it always did.
 * @internal
 */
export function endpointsOf(
  config: Record<string, unknown>,
  multiHostOptionGiven: boolean,
): Endpoints | undefined {
  const connectionString = config["connectionString"];
  if (typeof connectionString === "string") {
    const fromString = endpointsOfConnectionString(connectionString, config);
    if (fromString !== undefined || !multiHostOptionGiven) return fromString;
  }
  const host = config["host"];
  const hostList = typeof host === "string" ? splitList(host) : [];
  if (hostList.length <= 1 && !multiHostOptionGiven) return undefined;
  const hosts = hostsOf(hostList.length === 0 ? [hostOrDefault(host)] : hostList, config["port"]);
  const first = hosts[0] as HostAddress;
  return {
    hosts,
    targetSessionAttrs: undefined,
    loadBalanceHosts: undefined,
    config: { ...config, host: first.host, port: first.port },
  };
}

/**
 * A connection string with several hosts or a multi-host parameter. Until the libpq-faithful
 * parser is in (`conninfo.ts`), only single-host strings pass through unchanged.
 */
function endpointsOfConnectionString(
  _connectionString: string,
  _config: Record<string, unknown>,
): Endpoints | undefined {
  return undefined;
}

function hostsOf(hostList: readonly string[], port: unknown): HostAddress[] {
  const ports =
    port === undefined || port === null || port === ""
      ? []
      : typeof port === "number"
        ? [String(port)]
        : splitList(String(port));
  if (ports.length > 1 && ports.length !== hostList.length) {
    throw new InvalidOptionError(
      "port",
      `Invalid option "port": ${ports.length} ports for ${hostList.length} hosts. Give one port for all hosts, or one per host in the same order (as libpq does).`,
    );
  }
  return hostList.map((host, i) => {
    const text =
      ports.length === 0 ? String(DEFAULT_PORT) : (ports[ports.length === 1 ? 0 : i] as string);
    const value = text === "" ? DEFAULT_PORT : Number(text);
    if (!Number.isInteger(value) || value < 1 || value > 65535) {
      throw new InvalidOptionError(
        "port",
        `Invalid option "port": expected integers from 1 to 65535, one for all hosts or one per host; got ${JSON.stringify(text)}.`,
      );
    }
    return { host: host === "" ? "localhost" : host, port: value };
  });
}

function hostOrDefault(host: unknown): string {
  return typeof host === "string" && host !== "" ? host : (process.env["PGHOST"] ?? "localhost");
}

function splitList(text: string): string[] {
  return text.split(",").map((part) => part.trim());
}
