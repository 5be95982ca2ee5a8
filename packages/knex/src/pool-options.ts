import { InvalidOptionError } from "@lifeguard/core";
import { unknownOption } from "@lifeguard/core/internal";
import type { LifeguardPgOptions, PoolConfig, PoolTestingOptions } from "@lifeguard/pg";
import { lifeguardPgOptionKeys } from "@lifeguard/pg";
import type { Knex } from "knex";
import type pg from "pg";

/** What `pool` takes with `client: LifeguardClient`: Knex's sizing keys and Lifeguard's options. */
export interface LifeguardKnexPoolConfig extends LifeguardPgOptions, PoolTestingOptions {
  /**
   * Runs on every new connection, before first use (Knex's hook, `done(error?, connection?)`). Its
   * statements are the session's baseline: Lifeguard replays them after each session reset.
   */
  afterCreate?: (connection: pg.Client, done: (error?: Error | null) => void) => void;
  /** Knex's name for `maxLifetimeSeconds`, in milliseconds. */
  maxConnectionLifetimeMillis?: number;
}

/** tarn.js settings (and Knex ones built on tarn) that Lifeguard replaces: what to use instead. */
const replaced: Readonly<Record<string, string>> = {
  createTimeoutMillis:
    'Lifeguard bounds opening a connection by the caller\'s acquire deadline: use "acquireTimeoutMillis" (or Knex\'s "acquireConnectionTimeout").',
  createRetryIntervalMillis:
    "Lifeguard retries failed connects by itself with exponential backoff (10 ms doubling to 5 s) and fails acquires fast with DatabaseUnavailableError while the database is down; remove the option.",
  propagateCreateError:
    "Lifeguard always passes connect failures to the callers waiting (DatabaseUnavailableError while the database is down); remove the option.",
  destroyTimeoutMillis:
    'use "shutdownTimeoutMillis": how long knex.destroy() waits for connections still in use before closing them.',
  reapIntervalMillis:
    'Lifeguard checks idle connections on one housekeeping timer of its own; "idleTimeoutMillis" sets when they close.',
  validate:
    'Lifeguard checks connections before lending them: configure "prePing" ({ bypassWindowMillis, timeoutMillis }), or false to turn it off.',
  maxConnectionLifetimeJitterMillis:
    'use "lifetimeJitter": the fraction of the lifetime by which each connection retires early, at random (default 0.025).',
  log: "Lifeguard publishes its events on node:diagnostics_channel (lifeguard:pool:*, lifeguard:connection:*); subscribe there, or use @lifeguard/otel or @lifeguard/prometheus.",
};

const allowed = new Set<string>([
  ...lifeguardPgOptionKeys,
  "clock",
  "random",
  "afterCreate",
  "maxConnectionLifetimeMillis",
]);

/**
 * Lifeguard's Pool config from a Knex config: the connection settings (`connectionSettings`, with
 * the password Knex hides as non-enumerable) plus `pool` mapped onto Lifeguard's names.
 * `acquireConnectionTimeout` and `pool.acquireTimeoutMillis` are the acquire deadline.
 * @internal
 */
export function lifeguardPoolConfig(
  config: Knex.Config,
  connectionSettings: object,
): { pool: PoolConfig; afterCreate: LifeguardKnexPoolConfig["afterCreate"] } {
  const settings = { ...connectionSettings } as Record<string, unknown>;
  const password = (connectionSettings as { password?: unknown }).password;
  if (password !== undefined) settings["password"] = password;

  const knexPool = (config.pool ?? {}) as Record<string, unknown>;
  if (typeof knexPool !== "object" || Array.isArray(knexPool)) {
    throw new InvalidOptionError("pool", `Invalid option "pool": expected an object.`);
  }
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(knexPool)) {
    if (value === undefined) continue;
    const instead = replaced[key];
    if (instead !== undefined) {
      throw new InvalidOptionError(
        `pool.${key}`,
        `Knex pool option "${key}" is a tarn.js setting that LifeguardClient does not use: ${instead}`,
      );
    }
    if (!allowed.has(key)) {
      throw unknownOption(
        `pool.${key}`,
        [...allowed].map((k) => `pool.${k}`),
      );
    }
    if (key in settings) {
      throw new InvalidOptionError(
        `pool.${key}`,
        `Option "${key}" is given both in "connection" and in "pool"; pass it once.`,
      );
    }
    options[key] = value;
  }

  const lifetime = options["maxConnectionLifetimeMillis"];
  delete options["maxConnectionLifetimeMillis"];
  if (lifetime !== undefined) {
    if (options["maxLifetimeSeconds"] !== undefined) {
      throw new InvalidOptionError(
        "pool.maxConnectionLifetimeMillis",
        `Options "maxConnectionLifetimeMillis" and "maxLifetimeSeconds" are the same setting; pass one.`,
      );
    }
    if (typeof lifetime !== "number" || !(lifetime >= 0)) {
      throw new InvalidOptionError(
        "pool.maxConnectionLifetimeMillis",
        `Invalid option "maxConnectionLifetimeMillis": expected a number of milliseconds (0 = never); got ${String(lifetime)}.`,
      );
    }
    options["maxLifetimeSeconds"] = lifetime / 1000;
  }

  const afterCreate = options["afterCreate"];
  delete options["afterCreate"];
  if (afterCreate !== undefined && typeof afterCreate !== "function") {
    throw new InvalidOptionError(
      "pool.afterCreate",
      `Invalid option "afterCreate": expected a function (connection, done) => void.`,
    );
  }

  // as in Knex, the smaller of the two deadlines wins (Lifeguard validates the value)
  const deadline = config.acquireConnectionTimeout;
  const poolDeadline = options["acquireTimeoutMillis"];
  if (deadline !== undefined) {
    options["acquireTimeoutMillis"] =
      typeof poolDeadline === "number" ? Math.min(deadline, poolDeadline) : deadline;
  }

  return {
    pool: { ...(settings as PoolConfig), ...options } as PoolConfig,
    afterCreate: afterCreate as LifeguardKnexPoolConfig["afterCreate"],
  };
}
