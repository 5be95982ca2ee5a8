import { InvalidOptionError } from "@lifeguard/core";
import { unknownOption } from "@lifeguard/core/internal";
import type { LifeguardPgOptions, PoolConfig, PoolTestingOptions } from "@lifeguard/pg";
import { lifeguardPgOptionKeys } from "@lifeguard/pg/internal";
import type { Knex } from "knex";
import type pg from "pg";
import { mappedTarnSettings, mapTarnSettings, refusedTarnSettings } from "./tarn-settings.js";

/** What `pool` takes with `client: LifeguardClient`: Knex's sizing keys and Lifeguard's options. */
export interface LifeguardKnexPoolConfig extends LifeguardPgOptions, PoolTestingOptions {
  /**
   * Runs on every new connection, before first use (Knex's hook, `done(error?, connection?)`). Its
   * statements are the session's baseline: Lifeguard replays them after each session reset.
   */
  afterCreate?: (connection: pg.Client, done: (error?: Error | null) => void) => void;
  /**
   * Knex 3.3's check before lending a connection: `false` (or a throw) closes it and another is
   * tried. Runs after Lifeguard's own pre-ping.
   */
  validate?: (connection: pg.Client) => boolean | Promise<boolean>;
  /** Knex's name for `maxLifetimeSeconds`, in milliseconds. */
  maxConnectionLifetimeMillis?: number;
}

/** What the adapter runs itself, around Lifeguard's Pool. @internal */
export interface KnexHooks {
  afterCreate: LifeguardKnexPoolConfig["afterCreate"];
  validate: LifeguardKnexPoolConfig["validate"];
  /** tarn settings mapped onto Lifeguard's: the client warns about them once. */
  mapped: string[];
}

const allowed = new Set<string>([
  ...lifeguardPgOptionKeys,
  "clock",
  "random",
  "afterCreate",
  "validate",
  "maxConnectionLifetimeMillis",
  ...mappedTarnSettings,
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
): { pool: PoolConfig; hooks: KnexHooks } {
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
    const instead = refusedTarnSettings[key];
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
  const mapped = mapTarnSettings(options, lifetime as number | undefined);

  const afterCreate = takeFunction(options, "afterCreate", "(connection, done) => void");
  const validate = takeFunction(options, "validate", "(connection) => boolean | Promise<boolean>");

  // as in Knex, the smaller of the two deadlines wins (Lifeguard validates the value)
  const deadline = config.acquireConnectionTimeout;
  const poolDeadline = options["acquireTimeoutMillis"];
  if (deadline !== undefined) {
    options["acquireTimeoutMillis"] =
      typeof poolDeadline === "number" ? Math.min(deadline, poolDeadline) : deadline;
  }

  return {
    pool: { ...(settings as PoolConfig), ...options } as PoolConfig,
    hooks: {
      afterCreate: afterCreate as KnexHooks["afterCreate"],
      validate: validate as KnexHooks["validate"],
      mapped,
    },
  };
}

function takeFunction(options: Record<string, unknown>, key: string, shape: string): unknown {
  const value = options[key];
  delete options[key];
  if (value !== undefined && typeof value !== "function") {
    throw new InvalidOptionError(
      `pool.${key}`,
      `Invalid option "pool.${key}": expected a function ${shape}; got ${typeof value}.`,
    );
  }
  return value;
}
