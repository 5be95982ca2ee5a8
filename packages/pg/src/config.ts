import type { ConfigFromEnvOptions } from "@lifeguard/core";
import type { EnvSchema } from "@lifeguard/core/internal";
import { configFromEnv, lifeguardEnvSchema } from "@lifeguard/core/internal";
import type { LifeguardPgOptions } from "./options.js";
import { parseEvictOnSqlState } from "./sqlstate.js";

/** Every option's environment variable: the core ones plus PostgreSQL's. */
export const pgEnvSchema: EnvSchema = {
  ...lifeguardEnvSchema,
  RESET: {
    type: "enum",
    path: ["reset"],
    values: ["auto", "always", "never"],
    description: "When to reset the session on release.",
    defaultText: "`auto`",
  },
  RESET_QUERY: {
    type: "string",
    path: ["resetQuery"],
    description: "The statement that resets a session.",
    defaultText: "`DISCARD ALL`",
  },
  EVICT_ON_SQL_STATE: {
    type: "list",
    path: ["evictOnSqlState"],
    description: "SQLSTATEs or classes that retire the connection, comma-separated.",
    defaultText: "`08*, 57P01, 57P02, 57P03`",
    item: (code) => {
      const [parsed] = parseEvictOnSqlState([code]);
      return parsed as string;
    },
  },
  PGBOUNCER: {
    type: "enum",
    path: ["pgbouncer"],
    values: ["session", "transaction"],
    description: "Running behind PgBouncer in this pool mode.",
    defaultText: "off",
  },
  NAMED_STATEMENTS: {
    type: "boolean",
    path: ["namedStatements"],
    description: "`false` sends named queries unnamed.",
    defaultText: "`true`",
  },
  BUDGET_INSTANCES: {
    type: "number",
    path: ["budget", "instances"],
    rule: {
      kind: "integer",
      min: 1,
      max: 100_000,
      default: 1,
      description: "Instances that each open this pool.",
    },
  },
  BUDGET_RESERVED: {
    type: "number",
    path: ["budget", "reserved"],
    rule: {
      kind: "integer",
      min: 0,
      max: 1_000_000,
      default: 0,
      description: "Connections to leave free.",
    },
  },
  BUDGET_ENFORCE: {
    type: "boolean",
    path: ["budget", "enforce"],
    description: "Fail connects instead of warning when over budget.",
    defaultText: "`false`",
  },
};

/**
 * Reads Lifeguard's options, PostgreSQL ones included, from `LIFEGUARD_*` environment variables
 * (`LIFEGUARD_MAX=20`, `LIFEGUARD_RESET=always`, `LIFEGUARD_EVICT_ON_SQL_STATE=08,57P01,25006`,
 * `LIFEGUARD_BUDGET_INSTANCES=4`). A bad value throws naming the variable and what it accepts.
 */
export function lifeguardConfigFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
  options?: ConfigFromEnvOptions,
): LifeguardPgOptions {
  return configFromEnv<LifeguardPgOptions>(pgEnvSchema, env, options);
}

/**
 * Types a shared configuration without changing it, so one workspace package can own the pool
 * settings of every service, for every adapter:
 *
 * ```ts
 * export const poolConfig = defineLifeguardConfig({ max: 20, reset: "always", budget: { instances: 4 } });
 * ```
 */
export function defineLifeguardConfig<const T extends LifeguardPgOptions>(config: T): T {
  return config;
}
