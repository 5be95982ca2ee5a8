import type { LifeguardOptions } from "@lifeguard/core";
import { InvalidOptionError } from "@lifeguard/core";
import { lifeguardOptionKeys, unknownOption } from "@lifeguard/core/internal";
import type pg from "pg";
import type { ConnectionBudget } from "./budget.js";
import { parseBudget } from "./budget.js";
import type { PgBouncerMode, ResetMode } from "./connector.js";
import { parseEvictOnSqlState } from "./sqlstate.js";

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
   * The fleet's connection budget, checked against the server on the first connect: warns (or with
   * `enforce`, fails connects) when `instances × max` exceeds what the server allows.
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
}

/** Everything `new Pool(config)` accepts: pg.Pool's config plus Lifeguard's options. */
export interface PoolConfig
  extends Omit<pg.PoolConfig, keyof LifeguardPgOptions>,
    LifeguardPgOptions {}

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
const lifeguardPgOnlyKeys = [
  "reset",
  "resetQuery",
  "evictOnSqlState",
  "budget",
  "pgbouncer",
  "namedStatements",
] as const;
/** Every key `LifeguardPgOptions` has: adapters use it to tell Lifeguard's options from their own. */
export const lifeguardPgOptionKeys: readonly (keyof LifeguardPgOptions)[] = [
  ...lifeguardOptionKeys,
  ...lifeguardPgOnlyKeys,
];
const lifeguardPgKeys = new Set<string>(lifeguardPgOnlyKeys);
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
  readonly pgbouncer: PgBouncerMode;
  readonly namedStatements: boolean;
  readonly allowExitOnIdle: boolean;
  readonly Client: (new (config?: pg.ClientConfig) => pg.Client) | undefined;
  readonly onConnect: ((client: pg.Client) => unknown) | undefined;
  readonly verify: ((client: pg.Client, done: (error?: Error) => void) => void) | undefined;
  readonly log: ((...messages: unknown[]) => void) | undefined;
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
    if (
      typeof connectionTimeout !== "number" ||
      !Number.isInteger(connectionTimeout) ||
      connectionTimeout < 0
    ) {
      throw new InvalidOptionError(
        "connectionTimeoutMillis",
        `Invalid option "connectionTimeoutMillis": expected an integer from 0 to ${MAX_TIMER} (0 = wait as long as a timer can: ${MAX_TIMER} ms); got ${String(connectionTimeout)}.`,
      );
    }
    const mapped = connectionTimeout === 0 ? MAX_TIMER : Math.min(connectionTimeout, MAX_TIMER);
    if (core["acquireTimeoutMillis"] !== undefined && core["acquireTimeoutMillis"] !== mapped) {
      throw new InvalidOptionError(
        "connectionTimeoutMillis",
        `Options "connectionTimeoutMillis" (${connectionTimeout}) and "acquireTimeoutMillis" (${String(core["acquireTimeoutMillis"])}) disagree: they are the same setting in the pg drop-in; pass one.`,
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
  const reset = record["reset"] ?? "auto";
  if (reset !== "auto" && reset !== "always" && reset !== "never") {
    throw new InvalidOptionError(
      "reset",
      `Invalid option "reset": expected "auto", "always" or "never"; got ${JSON.stringify(reset)}.`,
    );
  }
  const resetQuery = record["resetQuery"] ?? "DISCARD ALL";
  if (typeof resetQuery !== "string" || resetQuery.trim() === "") {
    throw new InvalidOptionError(
      "resetQuery",
      `Invalid option "resetQuery": expected a non-empty SQL string such as "DISCARD ALL".`,
    );
  }
  for (const key of ["onConnect", "verify", "log", "Client"] as const) {
    if (record[key] !== undefined && typeof record[key] !== "function") {
      throw new InvalidOptionError(
        key,
        `Invalid option "${key}": expected a function; got ${typeof record[key]}.`,
      );
    }
  }
  const pgbouncer = record["pgbouncer"] ?? false;
  if (pgbouncer !== false && pgbouncer !== "session" && pgbouncer !== "transaction") {
    throw new InvalidOptionError(
      "pgbouncer",
      `Invalid option "pgbouncer": expected false, "session" or "transaction"; got ${JSON.stringify(pgbouncer)}.`,
    );
  }
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
  const namedStatements = record["namedStatements"] ?? true;
  if (typeof namedStatements !== "boolean") {
    throw new InvalidOptionError(
      "namedStatements",
      `Invalid option "namedStatements": expected true or false.`,
    );
  }
  const allowExitOnIdle = record["allowExitOnIdle"] ?? false;
  if (typeof allowExitOnIdle !== "boolean") {
    throw new InvalidOptionError(
      "allowExitOnIdle",
      `Invalid option "allowExitOnIdle": expected true or false.`,
    );
  }
  return {
    core: core as LifeguardOptions,
    client: client as pg.ClientConfig,
    reset,
    resetQuery,
    evictOnSqlState: parseEvictOnSqlState(record["evictOnSqlState"]),
    budget: parseBudget(record["budget"]),
    pgbouncer,
    namedStatements,
    allowExitOnIdle,
    Client: record["Client"] as SplitConfig["Client"],
    onConnect: record["onConnect"] as SplitConfig["onConnect"],
    verify: record["verify"] as SplitConfig["verify"],
    log: record["log"] as SplitConfig["log"],
  };
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
