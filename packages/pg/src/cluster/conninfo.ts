import { isIP } from "node:net";
import { InvalidOptionError } from "@lifeguard/core";
import type pg from "pg";
import { parse as pgParse } from "pg-connection-string";
import { parseKeywordValue } from "./conninfo-keywords.js";
import { parseUri, uriPrefixLength } from "./conninfo-uri.js";

/**
 * The multi-host part of a connection, read as libpq reads it (docs/cluster-conninfo.md says which
 * libpq version and which cases were checked). Pure: it reads no environment unless given one.
 */

/** libpq's `target_session_attrs` values (PostgreSQL 14+). */
export const targetSessionAttrsValues = [
  "any",
  "read-write",
  "read-only",
  "primary",
  "standby",
  "prefer-standby",
] as const;
/** Which server a session may use: libpq's `target_session_attrs`. */
export type TargetSessionAttrs = (typeof targetSessionAttrsValues)[number];

/** libpq's `load_balance_hosts` values (PostgreSQL 16+). */
export const loadBalanceHostsValues = ["disable", "random"] as const;
/** Try the hosts in the order given (`disable`) or in a random order (`random`). */
export type LoadBalanceHosts = (typeof loadBalanceHostsValues)[number];

/** One host of the list, in the order given. */
export interface ClusterHost {
  /** The host name (or socket directory); the address itself when only `hostaddr` was given. */
  readonly host: string;
  readonly port: number;
  /**
   * libpq's `hostaddr`: the numeric address to connect to instead of resolving `host` (which is
   * then used only as the name, e.g. for TLS). Absent when not given for this host.
   */
  readonly hostaddr?: string;
}

/** A pg client configuration without the fields the host list replaces. */
export type ClusterClientConfig = Omit<pg.ClientConfig, "host" | "port" | "connectionString">;

/** The result of `parseClusterConfig`. */
export interface ClusterConfig {
  /** At least one host, in the order given, defaults filled in. */
  readonly hosts: readonly ClusterHost[];
  readonly targetSessionAttrs: TargetSessionAttrs;
  readonly loadBalanceHosts: LoadBalanceHosts;
  /**
   * Everything else, as one pg client configuration without host, port and connectionString:
   * what the connection string set (user, password, database, sslmode as pg reads it...) over the
   * object's own fields. `{ ...rest, host, port }` (or `clusterHostConfig`) is one host's client.
   */
  readonly rest: ClusterClientConfig;
}

/** What `parseClusterConfig` takes beside the connection string: pg's config fields and libpq's. */
export interface ClusterConfigFields extends Omit<pg.ClientConfig, "port"> {
  /** `'h1,h2'`: libpq's comma-separated host list. */
  host?: string;
  /** One port for every host, or `'5432,5433'`: one per host. */
  port?: number | string;
  hostaddr?: string;
  target_session_attrs?: string;
  targetSessionAttrs?: string;
  load_balance_hosts?: string;
  loadBalanceHosts?: string;
}

/** Options of `parseClusterConfig`. */
export interface ParseClusterConfigOptions {
  /**
   * Where PGHOST, PGHOSTADDR, PGPORT, PGTARGETSESSIONATTRS and PGLOADBALANCEHOSTS are read when
   * the setting is not given, as libpq does. Default: none (pass `process.env` to use it).
   */
  env?: Readonly<Record<string, string | undefined>>;
  /** The host of an empty entry. Default `'localhost'` (pg's; libpq's is its socket directory). */
  defaultHost?: string;
  /** The port of an empty entry. Default 5432. */
  defaultPort?: number;
}

/** The config keys this module owns; the rest passes through to `rest`. */
const clusterKeys = new Set([
  "host",
  "port",
  "hostaddr",
  "connectionString",
  "target_session_attrs",
  "targetSessionAttrs",
  "load_balance_hosts",
  "loadBalanceHosts",
]);

/** libpq keywords that map to a pg field of another name, or that this module reads itself. */
const libpqFieldNames: Record<string, string> = {
  dbname: "database",
  user: "user",
  password: "password",
};

/** Raw (unsplit) settings and where each came from, for errors naming the option. */
interface RawSetting {
  readonly value: string;
  /** The option to name in an error, as the caller spelled it. */
  readonly option: string;
  /** How to refer to the value in a message ("its port" inside a connection string). */
  readonly label: string;
}

/**
 * Reads a connection string (libpq URI or keyword/value form) and/or pg-style config fields into
 * the host list, `target_session_attrs`, `load_balance_hosts` and the rest of the client config.
 *
 * libpq's rules: hosts and ports are comma lists; one port applies to every host, otherwise there
 * must be one port per host; an empty entry is the default host or port; `hostaddr` lists are
 * matched to the hosts the same way. A connection string's own settings win over the object's,
 * and with a URI the object's host and port are not used at all (as in pg). Throws
 * `InvalidOptionError` naming the option and what it accepts; never with the password in it.
 */
export function parseClusterConfig(
  input: string | ClusterConfigFields,
  options: ParseClusterConfigOptions = {},
): ClusterConfig {
  const fields: ClusterConfigFields =
    typeof input === "string" ? { connectionString: input } : input;
  const env = options.env ?? {};
  const fromString = readConnectionString(fields.connectionString);

  const setting = (
    keyword: string,
    objectKeys: readonly string[],
    envVar: string,
  ): RawSetting | undefined => {
    const stringValue = fromString?.values.get(keyword);
    if (stringValue !== undefined) {
      return { value: stringValue, option: "connectionString", label: `its ${keyword}` };
    }
    // a URI decides the host list on its own: pg likewise ignores the object's host and port then
    const objectUsable = !(fromString?.isUri === true && hostKeywords.has(keyword));
    let found: RawSetting | undefined;
    for (const key of objectUsable ? objectKeys : []) {
      const raw = (fields as Record<string, unknown>)[key];
      if (raw === undefined || raw === null || raw === "") continue;
      if (typeof raw !== "string" && !(typeof raw === "number" && key === "port")) {
        throw new InvalidOptionError(
          key,
          `Invalid option "${key}": expected a string; got ${typeof raw}.`,
        );
      }
      const value = String(raw);
      if (found !== undefined && found.value !== value) {
        throw new InvalidOptionError(
          key,
          `Invalid option "${key}": "${found.option}" is also given, with another value; give one of them.`,
        );
      }
      found ??= { value, option: key, label: `"${key}"` };
    }
    if (found !== undefined) return found;
    const envValue = env[envVar];
    if (envValue !== undefined && envValue !== "") {
      return { value: envValue, option: envVar, label: envVar };
    }
    return undefined;
  };

  const host = setting("host", ["host"], "PGHOST");
  const hostaddr = setting("hostaddr", ["hostaddr"], "PGHOSTADDR");
  const port = setting("port", ["port"], "PGPORT");
  const tsa = setting(
    "target_session_attrs",
    ["target_session_attrs", "targetSessionAttrs"],
    "PGTARGETSESSIONATTRS",
  );
  const lbh = setting(
    "load_balance_hosts",
    ["load_balance_hosts", "loadBalanceHosts"],
    "PGLOADBALANCEHOSTS",
  );

  return {
    hosts: splitHosts(host, hostaddr, port, options),
    targetSessionAttrs: oneOf(tsa, "target_session_attrs", targetSessionAttrsValues, "any"),
    loadBalanceHosts: oneOf(lbh, "load_balance_hosts", loadBalanceHostsValues, "disable"),
    rest: restOf(fields, fromString),
  };
}

/** More than one host: the configuration needs a cluster pool, not a single-host one. */
export function isMultiHost(
  input: string | ClusterConfigFields,
  options?: ParseClusterConfigOptions,
): boolean {
  return parseClusterConfig(input, options).hosts.length > 1;
}

/**
 * One host's pg client configuration: `rest` with this host and port. With `hostaddr`, the client
 * connects to the address and TLS checks the certificate against the host name, as libpq does.
 */
export function clusterHostConfig(config: ClusterConfig, host: ClusterHost): pg.ClientConfig {
  const client: pg.ClientConfig = {
    ...config.rest,
    host: host.hostaddr ?? host.host,
    port: host.port,
  };
  const { ssl } = client;
  if (host.hostaddr !== undefined && host.host !== host.hostaddr && ssl) {
    const object = typeof ssl === "object" ? ssl : {};
    if (object.servername === undefined) client.ssl = { ...object, servername: host.host };
  }
  return client;
}

const hostKeywords = new Set(["host", "port", "hostaddr"]);

interface StringSettings {
  readonly isUri: boolean;
  /** libpq keyword → value, decoded. */
  readonly values: Map<string, string>;
}

function readConnectionString(connectionString: unknown): StringSettings | undefined {
  if (connectionString === undefined || connectionString === null || connectionString === "") {
    return undefined;
  }
  if (typeof connectionString !== "string") {
    throw new InvalidOptionError(
      "connectionString",
      `Invalid option "connectionString": expected a string; got ${typeof connectionString}.`,
    );
  }
  if (uriPrefixLength(connectionString) > 0) {
    return { isUri: true, values: parseUri(connectionString).values };
  }
  if (isPgOnlyForm(connectionString)) return { isUri: true, values: pgOnlyForm(connectionString) };
  return { isUri: false, values: parseKeywordValue(connectionString) };
}

/**
 * Forms pg reads that libpq does not: `socket:/dir?db=name`, `/dir dbname`, or a URL with another
 * scheme. They name one host; pg's own parser reads them.
 */
function isPgOnlyForm(connectionString: string): boolean {
  return connectionString.startsWith("/") || /^[a-z][a-z0-9+.-]*:/i.test(connectionString);
}

function pgOnlyForm(connectionString: string): Map<string, string> {
  let parsed: Record<string, unknown>;
  try {
    parsed = pgParse(connectionString) as Record<string, unknown>;
  } catch (error) {
    // not the original error: Node's URL error carries the whole URL, password included
    throw new InvalidOptionError(
      "connectionString",
      `Invalid option "connectionString": pg cannot parse it (${(error as Error).name}). Expected postgres://user:password@host1:5432,host2:5432/database or host=host1,host2 port=5432 dbname=database.`,
    );
  }
  const values = new Map<string, string>();
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== "string" || value === "") continue;
    values.set(key === "database" ? "dbname" : key, value);
  }
  return values;
}

function splitList(value: string): string[] {
  return value.split(",");
}

function splitHosts(
  host: RawSetting | undefined,
  hostaddr: RawSetting | undefined,
  port: RawSetting | undefined,
  options: ParseClusterConfigOptions,
): ClusterHost[] {
  const defaultHost = options.defaultHost ?? "localhost";
  const defaultPort = options.defaultPort ?? 5432;
  // libpq counts hosts by hostaddr when given, else by host; neither (or both empty) is one host
  const addrs = hostaddr && hostaddr.value !== "" ? splitList(hostaddr.value) : undefined;
  let names = host && host.value !== "" ? splitList(host.value) : undefined;
  const count = addrs?.length ?? names?.length ?? 1;
  if (addrs && names && names.length !== count) {
    throw new InvalidOptionError(
      host?.option ?? "host",
      `Invalid option "${host?.option}": ${names.length} host names for ${count} hostaddr values (${hostaddr?.label}); give one host name per address, an empty one where there is none (host=a,,c).`,
    );
  }
  names ??= new Array<string>(count).fill("");

  let ports: string[] = new Array<string>(count).fill("");
  if (port && port.value !== "") {
    const given = splitList(port.value);
    if (given.length === 1) ports = new Array<string>(count).fill(given[0] as string);
    else if (given.length === count) ports = given;
    else {
      throw new InvalidOptionError(
        port.option,
        `Invalid option "${port.option}": ${given.length} ports (${port.label}) for ${count} hosts; give one port for every host or one per host, in the same order (an empty entry means ${defaultPort}).`,
      );
    }
  }

  return names.map((name, i) => {
    const addr = addrs?.[i] ?? "";
    if (addr !== "" && isIP(addr) === 0) {
      throw new InvalidOptionError(
        hostaddr?.option ?? "hostaddr",
        `Invalid option "${hostaddr?.option}": ${hostaddr?.label} must be numeric IP addresses (put names in host); got ${JSON.stringify(addr)}.`,
      );
    }
    const portText = ports[i] as string;
    let portNumber = defaultPort;
    if (portText !== "") {
      // libpq's parse_int_param: an integer, blanks around it allowed; then 1-65535 at connect
      const trimmed = portText.trim();
      portNumber = /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
      if (!(portNumber >= 1 && portNumber <= 65535)) {
        throw new InvalidOptionError(
          port?.option ?? "port",
          `Invalid option "${port?.option}": ${port?.label} must be integers from 1 to 65535 (an empty entry means ${defaultPort}); got ${JSON.stringify(portText)}.`,
        );
      }
    }
    const entry: { host: string; port: number; hostaddr?: string } = {
      host: name !== "" ? name : addr !== "" ? addr : defaultHost,
      port: portNumber,
    };
    if (addr !== "") entry.hostaddr = addr;
    return entry;
  });
}

function oneOf<T extends string>(
  setting: RawSetting | undefined,
  keyword: string,
  allowed: readonly T[],
  fallback: T,
): T {
  if (setting === undefined) return fallback;
  // case-sensitive and no trimming, as libpq's strcmp; an empty value is refused too
  if ((allowed as readonly string[]).includes(setting.value)) return setting.value as T;
  const where = setting.option === "connectionString" ? ` (its ${keyword})` : "";
  throw new InvalidOptionError(
    setting.option,
    `Invalid option "${setting.option}"${where}: expected one of ${allowed.join(", ")}; got ${JSON.stringify(setting.value)}.`,
  );
}

/**
 * The object's fields minus the cluster ones, overlaid with what the connection string set: user,
 * password and database directly, every other parameter through pg's own connection-string parser,
 * so `sslmode`, `sslrootcert`, `application_name`... mean what they mean to pg.
 */
function restOf(
  fields: ClusterConfigFields,
  fromString: StringSettings | undefined,
): ClusterClientConfig {
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) if (!clusterKeys.has(key)) rest[key] = value;
  if (fromString === undefined) return rest as ClusterClientConfig;

  const params = new URLSearchParams();
  for (const [keyword, value] of fromString.values) {
    if (hostKeywords.has(keyword) || keyword === "target_session_attrs") continue;
    if (keyword === "load_balance_hosts") continue;
    const field = libpqFieldNames[keyword];
    if (field !== undefined) rest[field] = value;
    else params.append(keyword, value);
  }
  if ([...params.keys()].length > 0) {
    const parsed = pgParse(`postgres://placeholder/?${params.toString()}`) as Record<
      string,
      unknown
    >;
    for (const [key, value] of Object.entries(parsed)) {
      if (key === "host" || key === "port" || key === "user" || key === "password") continue;
      if (key === "database" || value === undefined || value === null) continue;
      rest[key] = value;
    }
  }
  return rest as ClusterClientConfig;
}
