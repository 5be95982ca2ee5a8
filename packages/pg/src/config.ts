import type { ConfigFromEnvOptions } from "@lifeguard/core";
import type { EnvSchema } from "@lifeguard/core/internal";
import { configFromEnv, envSchemaOf, lifeguardEnvSchema } from "@lifeguard/core/internal";
import type { LifeguardPgOptions } from "./options.js";
import { lifeguardPgOptionTable } from "./options.js";

/** Every option's environment variable: the core ones plus PostgreSQL's, from the option tables. */
export const pgEnvSchema: EnvSchema = {
  ...lifeguardEnvSchema,
  ...envSchemaOf(lifeguardPgOptionTable),
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
