import type { LifeguardOptions } from "@lifeguard/core";
import { InvalidOptionError } from "@lifeguard/core";
import type { OptionTable } from "@lifeguard/core/internal";
import {
  checkNumber,
  checkOption,
  lifeguardOptionKeys,
  unknownOption,
} from "@lifeguard/core/internal";
import type pg from "pg";
import type { ConnectionBudget } from "./budget.js";
import type { LoadBalanceHosts, TargetSessionAttrs } from "./cluster/target.js";
import { loadBalanceHostsValues, targetSessionAttrsValues } from "./cluster/target.js";
import type { CredentialsProvider } from "./credentials-api.js";
import { passwordInUrl } from "./redact.js";
import type { ServerlessPreset } from "./serverless.js";
import { serverlessOptionSpec } from "./serverless.js";
import { defaultEvictOnSqlState, parseEvictOnSqlState } from "./sqlstate.js";

/** The reset modes, stated once: the type, the validation, the environment and the reference read them. */
const resetModes = ["auto", "always", "never"] as const;
const pgbouncerModes = [false, "session", "transaction"] as const;

/** When the pool resets a session before the next borrower. */
export type ResetMode = (typeof resetModes)[number];

/** Running behind PgBouncer, and in which pool mode. */
export type PgBouncerMode = (typeof pgbouncerModes)[number];

/**
 * Lifeguard's PostgreSQL options beyond core's: the one table that validates them, names their
 * environment variables (`pgEnvSchema`) and writes their rows of docs/configuration.md.
 */
export const lifeguardPgOptionTable = {
  reset: {
    kind: "enum",
    values: resetModes,
    default: "auto",
    description: "When to reset the session on release.",
  },
  resetQuery: {
    kind: "string",
    default: "DISCARD ALL",
    defaultText: "`DISCARD ALL`",
    maxLength: 100_000,
    description: "The statement that resets a session.",
  },
  evictOnSqlState: {
    kind: "list",
    check: parseEvictOnSqlState,
    item: (code) => parseEvictOnSqlState([code])[0] as string,
    defaultText: "`08*, 57P01, 57P02, 57P03`",
    description: "SQLSTATEs or classes that retire the connection, comma-separated.",
  },
  pgbouncer: {
    kind: "enum",
    values: pgbouncerModes,
    default: false,
    description: "Running behind PgBouncer in this pool mode.",
  },
  namedStatements: {
    kind: "boolean",
    default: true,
    description: "`false` sends named queries unnamed.",
  },
  targetSessionAttrs: {
    kind: "enum",
    values: targetSessionAttrsValues,
    default: "any",
    description:
      "Multi-host: which server a connection may land on (libpq's target_session_attrs).",
  },
  loadBalanceHosts: {
    kind: "enum",
    values: loadBalanceHostsValues,
    default: "disable",
    description:
      "Multi-host: try hosts in the order given, or at random (libpq's load_balance_hosts).",
  },
  hostRecheckMillis: {
    kind: "number",
    rule: {
      kind: "integer",
      min: 100,
      max: 86_400_000,
      default: 10_000,
      description:
        "Multi-host: how long a host's learned role is trusted before it is checked again.",
    },
  },
  maxReplicaLagMillis: {
    kind: "number",
    rule: {
      kind: "integer",
      min: 0,
      max: 86_400_000,
      allowInfinity: true,
      default: Number.POSITIVE_INFINITY,
      description:
        "Multi-host reads: a standby further behind is not used (measured at each recheck).",
    },
  },
  pipelineQueries: {
    kind: "object",
    required: [],
    canTurnOff: true,
    defaultsWhenAbsent: false,
    defaultText: "off",
    description:
      "Pipelines session-clean autocommit `pool.query()` calls onto busy connections (docs/pipelining.md).",
    fields: {
      depth: {
        kind: "number",
        rule: {
          kind: "integer",
          min: 1,
          max: 1000,
          default: 8,
          description: "Queries in flight on one connection at most.",
        },
      },
      headOfLineMillis: {
        kind: "number",
        rule: {
          kind: "integer",
          min: 0,
          max: 3_600_000,
          default: 10,
          description: "A connection whose oldest query has run this long takes no more behind it.",
        },
      },
    },
  },
  serverless: serverlessOptionSpec,
  budget: {
    kind: "object",
    required: ["instances"],
    canTurnOff: false,
    defaultsWhenAbsent: false,
    defaultText: "off",
    description: "The fleet's connection budget, checked on the first connect (to each host).",
    fields: {
      instances: {
        kind: "number",
        rule: {
          kind: "integer",
          min: 1,
          max: 100_000,
          default: 1,
          description: "Instances that each open this pool.",
        },
      },
      reserved: {
        kind: "number",
        rule: {
          kind: "integer",
          min: 0,
          max: 1_000_000,
          default: 0,
          description: "Connections to leave free.",
        },
      },
      enforce: {
        kind: "boolean",
        default: false,
        description: "Fail connects instead of warning when over budget.",
      },
    },
  },
} as const satisfies OptionTable;

/** pg.Pool's own options that are values (the others are functions or classes). */
const pgPoolValueOptions = {
  allowExitOnIdle: {
    kind: "boolean",
    default: false,
    description: "Unref idle clients' sockets.",
  },
  connectionTimeoutMillis: {
    kind: "number",
    rule: {
      kind: "integer",
      min: 0,
      // pg.Pool takes any length; longer than a timer can wait is clamped, as 0 is
      max: Number.MAX_SAFE_INTEGER,
      default: 10_000,
      description: "pg.Pool's name for acquireTimeoutMillis; 0 = as long as a timer can wait.",
    },
  },
} as const satisfies OptionTable;

/** Lifeguard's PostgreSQL options, beside pg's own. */
export interface LifeguardPgOptions extends LifeguardOptions {
  /**
   * When to reset the session before the next borrower: `'auto'` (default) when the lease may have
   * changed it, `'always'`, or `'never'`.
   */
  reset?: ResetMode;
  /** The statement that resets a session. Default `'DISCARD ALL'`. */
  resetQuery?: string;
  /**
   * SQLSTATEs (`"57P01"`) or classes (`"08"`, `"08*"`) whose errors retire the connection.
   * Default: `["08", "57P01", "57P02", "57P03"]`; add `"25006"` for primary-only pools.
   */
  evictOnSqlState?: readonly string[];
  /**
   * The fleet's connection budget, checked against the server on the first connect (with several
   * hosts, on each host when first reached; a Cluster counts writer.max + reader.max): warns (or
   * with `enforce`, fails connects) when `instances × max` exceeds what the server allows.
   */
  budget?: ConnectionBudget;
  /**
   * Running behind PgBouncer: `'transaction'` leaves the reset to PgBouncer (open transactions are
   * still rolled back) and warns once per kind of session state a lease leaves behind;
   * `'session'` behaves as without PgBouncer. Default false.
   */
  pgbouncer?: PgBouncerMode;
  /**
   * `false` sends named queries (pg's `name`, Drizzle `.prepare()`, Prisma's named statements)
   * unnamed: same results, no server-side statement. For PgBouncer before 1.21 (or with
   * `max_prepared_statements = 0`) in transaction mode. Default true.
   */
  namedStatements?: boolean;
  /**
   * With several hosts (a multi-host connection string, or a `Cluster`): how long a host's learned
   * role (primary, standby) is trusted before it is checked again, as pgjdbc's
   * `hostRecheckSeconds`. Roles are also learned from every new connection and from a standby's
   * promotion mid-session. Default 10000.
   */
  hostRecheckMillis?: number;
  /**
   * Which server a connection may land on, as libpq's `target_session_attrs` (which a connection
   * string may also carry): `'any'` (default), `'read-write'`, `'read-only'`, `'primary'`,
   * `'standby'` or `'prefer-standby'`. See docs/cluster.md.
   */
  targetSessionAttrs?: TargetSessionAttrs;
  /** With several hosts: `'disable'` (default) tries them in order, `'random'` in a random order. */
  loadBalanceHosts?: LoadBalanceHosts;
  /**
   * With several hosts, for connections that read from standbys: a standby whose replay is further
   * behind than this (measured at each recheck) is not used until it catches up. Default Infinity
   * (no limit, lag not measured).
   */
  maxReplicaLagMillis?: number;
  /**
   * Rotating credentials: an async function returning `{ user?, password, expiresAt? }`, called for
   * the first connect and then ahead of each expiry in the background. Connections never outlive
   * the credentials they opened with, and a rotation retires the old ones gradually. Not with
   * `password` (or a password in `connectionString`). See docs/credentials.md.
   */
  credentials?: CredentialsProvider;
  /**
   * Opt-in: autocommit `pool.query()` calls the classifier proves session-clean (reads and DML, no
   * transaction, no session statement) are written onto connections already busy with other such
   * queries, up to `depth` in flight each, each with its own Sync so an error stays with its own
   * query. A connection whose oldest query has run `headOfLineMillis` takes no more behind it.
   * `pool.connect()` clients, transactions, callbacks and Submittables are never pipelined.
   * `{}` turns it on with the defaults (depth 8, 10 ms); off by default. See docs/pipelining.md.
   */
  pipelineQueries?: PipelineQueriesOptions | false;
  /**
   * A serverless platform's sizes and timeouts (`'lambda'`, `'vercel'`); options given beside it
   * win. Freeze detection itself is always on. See docs/serverless.md. Default false.
   */
  serverless?: ServerlessPreset | false;
}

/** `pipelineQueries`: how deep a connection's pipeline may get. */
export interface PipelineQueriesOptions {
  /** Queries in flight on one connection at most (1–1000, default 8). */
  depth?: number;
  /** A connection whose oldest query has run this long takes no more queries behind it (ms, default 10). */
  headOfLineMillis?: number;
}

/** Everything `new Pool(config)` accepts: pg.Pool's config plus Lifeguard's options. */
export interface PoolConfig
  extends Omit<pg.PoolConfig, keyof LifeguardPgOptions | "port">,
    LifeguardPgOptions {
  /**
   * The server's port; with several hosts (`host: "h1,h2"`), one port for all or a
   * comma-separated list with one per host (`"5432,5433"`), as libpq takes them.
   */
  port?: number | string | undefined;
}

/** pg.Pool's own options (not passed to clients). */
const pgPoolKeys = new Set([
  "connectionTimeoutMillis",
  "allowExitOnIdle",
  "log",
  "Client",
  "Promise",
  "onConnect",
  "verify",
  "poolSize",
]);
const lifeguardPgOnlyKeys = Object.keys(lifeguardPgOptionTable) as (keyof LifeguardPgOptions)[];
/** Every key `LifeguardPgOptions` has: adapters use it to tell Lifeguard's options from their own. */
export const lifeguardPgOptionKeys: readonly (keyof LifeguardPgOptions)[] = [
  ...lifeguardOptionKeys,
  ...lifeguardPgOnlyKeys,
  // a function, so not in the option table (no environment variable, no reference row)
  "credentials",
];
const lifeguardPgKeys = new Set<string>([...lifeguardPgOnlyKeys, "credentials"]);
const coreKeys = new Set<string>(lifeguardOptionKeys);

/** pg Client options we know, so near-misses of Lifeguard's names can be caught. */
const knownClientKeys = new Set([
  "user",
  "database",
  "password",
  "port",
  "host",
  "connectionString",
  "keepAlive",
  "stream",
  "statement_timeout",
  "ssl",
  "enableChannelBinding",
  "sslnegotiation",
  "query_timeout",
  "lock_timeout",
  "keepAliveInitialDelayMillis",
  "idle_in_transaction_session_timeout",
  "application_name",
  "fallback_application_name",
  "types",
  "options",
  "client_encoding",
  "pipeline",
  "binary",
  "replication",
  "scramMaxIterations",
  "connection",
]);

/** @internal */
export interface SplitConfig {
  readonly core: LifeguardOptions;
  readonly client: pg.ClientConfig;
  readonly reset: ResetMode;
  readonly resetQuery: string;
  readonly evictOnSqlState: readonly string[];
  readonly budget: ConnectionBudget | undefined;
  readonly hostRecheckMillis: number;
  /** Undefined when not given (a connection string may carry it). */
  readonly targetSessionAttrs: TargetSessionAttrs | undefined;
  readonly loadBalanceHosts: LoadBalanceHosts | undefined;
  /** Infinity: no limit. */
  readonly maxReplicaLagMillis: number;
  readonly pgbouncer: PgBouncerMode;
  readonly namedStatements: boolean;
  readonly pipelineQueries:
    | { readonly depth: number; readonly headOfLineMillis: number }
    | undefined;
  readonly allowExitOnIdle: boolean;
  readonly Client: (new (config?: pg.ClientConfig) => pg.Client) | undefined;
  readonly onConnect: ((client: pg.Client) => unknown) | undefined;
  readonly verify: ((client: pg.Client, done: (error?: Error) => void) => void) | undefined;
  readonly log: ((...messages: unknown[]) => void) | undefined;
  readonly credentials: CredentialsProvider | undefined;
}

const MAX_TIMER = 2_147_483_647;

/**
 * Splits a pg.Pool-style config into core options, Lifeguard's pg options and the pg Client config
 * (everything else passes through to pg unchanged).
 * @internal
 */
export function splitConfig(config: PoolConfig): SplitConfig {
  if (config === null || typeof config !== "object") {
    throw new InvalidOptionError(
      "config",
      "new Pool(config): config must be an object (or omitted).",
    );
  }
  const record = config as Record<string, unknown>;
  const core: Record<string, unknown> = {};
  const client: Record<string, unknown> = {};
  for (const key of Object.keys(record)) {
    const value = record[key];
    if (value === undefined) continue;
    if (coreKeys.has(key)) core[key] = value;
    else if (pgPoolKeys.has(key) || lifeguardPgKeys.has(key)) continue;
    else {
      if (!knownClientKeys.has(key)) rejectNearMiss(key);
      client[key] = value;
    }
  }
  // pg hides the password as a non-enumerable property; keep it that way
  if ("password" in record && record["password"] !== undefined) {
    Object.defineProperty(client, "password", {
      value: record["password"],
      enumerable: false,
      writable: true,
    });
  }

  // pg.Pool's names for the same things
  if (record["max"] === undefined && record["poolSize"] !== undefined)
    core["max"] = record["poolSize"];
  if (record["idleTimeoutMillis"] === null) delete core["idleTimeoutMillis"];
  const connectionTimeout = record["connectionTimeoutMillis"];
  if (connectionTimeout !== undefined) {
    checkNumber(
      "connectionTimeoutMillis",
      connectionTimeout,
      pgPoolValueOptions.connectionTimeoutMillis.rule,
    );
    const mapped =
      connectionTimeout === 0 ? MAX_TIMER : Math.min(connectionTimeout as number, MAX_TIMER);
    if (core["acquireTimeoutMillis"] !== undefined && core["acquireTimeoutMillis"] !== mapped) {
      throw new InvalidOptionError(
        "connectionTimeoutMillis",
        `Options "connectionTimeoutMillis" (${String(connectionTimeout)}) and "acquireTimeoutMillis" (${String(core["acquireTimeoutMillis"])}) disagree: they are the same setting in the pg drop-in; pass one.`,
      );
    }
    core["acquireTimeoutMillis"] = mapped;
  }
  if (record["Promise"] !== undefined && record["Promise"] !== globalThis.Promise) {
    throw new InvalidOptionError(
      "Promise",
      `Option "Promise" is not supported: Lifeguard uses native promises (pg itself deprecated custom Promise libraries). Remove the option.`,
    );
  }
  const table = lifeguardPgOptionTable;
  const reset = checkOption("reset", record["reset"], table.reset) as ResetMode;
  const resetQuery = checkOption("resetQuery", record["resetQuery"], table.resetQuery) as string;
  for (const key of ["onConnect", "verify", "log", "Client", "credentials"] as const) {
    if (record[key] !== undefined && typeof record[key] !== "function") {
      throw new InvalidOptionError(
        key,
        `Invalid option "${key}": expected a function; got ${typeof record[key]}.`,
      );
    }
  }
  if (record["credentials"] !== undefined) checkCredentialsAlone(record);
  const pgbouncer = checkOption("pgbouncer", record["pgbouncer"], table.pgbouncer) as PgBouncerMode;
  if (pgbouncer === "transaction" && record["reset"] === "always") {
    throw new InvalidOptionError(
      "reset",
      `Options "reset": "always" and "pgbouncer": "transaction" conflict: in transaction mode PgBouncer owns server sessions and resets them itself (server_reset_query), and a reset sent through it would run on a connection other clients share. Remove "reset", or use PgBouncer's session mode.`,
    );
  }
  if (pgbouncer !== false && record["budget"] !== undefined) {
    throw new InvalidOptionError(
      "budget",
      `Option "budget" checks instances × max against the server's max_connections, but behind PgBouncer ("pgbouncer": ${JSON.stringify(pgbouncer)}) the limit that applies is PgBouncer's max_client_conn, which a client cannot read. Remove "budget" and do the arithmetic in docs/pgbouncer.md instead.`,
    );
  }
  const namedStatements = checkOption(
    "namedStatements",
    record["namedStatements"],
    table.namedStatements,
  ) as boolean;
  const pipelineQueries = checkOption(
    "pipelineQueries",
    record["pipelineQueries"],
    table.pipelineQueries,
  ) as SplitConfig["pipelineQueries"] | false;
  if (pipelineQueries !== undefined && pipelineQueries !== false && pgbouncer === "transaction") {
    throw new InvalidOptionError(
      "pipelineQueries",
      `Options "pipelineQueries" and "pgbouncer": "transaction" conflict: PgBouncer in transaction mode may hand each Sync's queries to a different server connection, so a pipeline's order and its errors are not the server's to keep. Remove "pipelineQueries", or use PgBouncer's session mode.`,
    );
  }
  const allowExitOnIdle = checkOption(
    "allowExitOnIdle",
    record["allowExitOnIdle"],
    pgPoolValueOptions.allowExitOnIdle,
  ) as boolean;
  return {
    core: core as LifeguardOptions,
    client: client as pg.ClientConfig,
    reset,
    resetQuery,
    evictOnSqlState:
      (checkOption("evictOnSqlState", record["evictOnSqlState"], table.evictOnSqlState) as
        | readonly string[]
        | undefined) ?? defaultEvictOnSqlState,
    budget: checkOption("budget", record["budget"], table.budget) as ConnectionBudget | undefined,
    targetSessionAttrs:
      record["targetSessionAttrs"] === undefined
        ? undefined
        : (checkOption(
            "targetSessionAttrs",
            record["targetSessionAttrs"],
            table.targetSessionAttrs,
          ) as TargetSessionAttrs),
    loadBalanceHosts:
      record["loadBalanceHosts"] === undefined
        ? undefined
        : (checkOption(
            "loadBalanceHosts",
            record["loadBalanceHosts"],
            table.loadBalanceHosts,
          ) as LoadBalanceHosts),
    hostRecheckMillis: checkOption(
      "hostRecheckMillis",
      record["hostRecheckMillis"],
      table.hostRecheckMillis,
    ) as number,
    maxReplicaLagMillis: checkOption(
      "maxReplicaLagMillis",
      record["maxReplicaLagMillis"],
      table.maxReplicaLagMillis,
    ) as number,
    pgbouncer,
    namedStatements,
    pipelineQueries: pipelineQueries === false ? undefined : pipelineQueries,
    allowExitOnIdle,
    Client: record["Client"] as SplitConfig["Client"],
    onConnect: record["onConnect"] as SplitConfig["onConnect"],
    verify: record["verify"] as SplitConfig["verify"],
    log: record["log"] as SplitConfig["log"],
    credentials: record["credentials"] as SplitConfig["credentials"],
  };
}

/**
 * `credentials` decides the password of every connect: a `password` beside it (or one in the
 * connection string) would be silently ignored, so it is refused. A `user` is the default for
 * providers that return none.
 */
function checkCredentialsAlone(record: Record<string, unknown>): void {
  const url = record["connectionString"];
  const inUrl = typeof url === "string" && passwordInUrl(url) !== undefined;
  if (record["password"] === undefined && !inUrl) return;
  throw new InvalidOptionError(
    "credentials",
    `Options "credentials" and ${inUrl ? 'a password in "connectionString"' : '"password"'} conflict: with "credentials", every connect logs in with the password the provider returns. Remove the ${inUrl ? "password from the connection string" : '"password" option'} (a "user" may stay: it is used when the provider returns none).`,
  );
}

/** A key pg does not know and that is one typo away from a Lifeguard option is almost surely a mistake. */
function rejectNearMiss(key: string): void {
  const candidates = [...coreKeys, ...lifeguardPgKeys, ...pgPoolKeys];
  const error = unknownOption(key, candidates);
  if (error.message.includes("Did you mean")) {
    throw new InvalidOptionError(
      key,
      `${error.message.split(" Allowed:")[0]} (Options pg does not know are passed to pg.Client unchanged, but this one looks like a misspelt pool option.)`,
    );
  }
}
