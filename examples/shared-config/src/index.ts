import { defineLifeguardConfig, lifeguardConfigFromEnv } from "@lifeguard/pg";

/**
 * The pool settings of every service in the workspace, in one place. Each deployment can still
 * override any of them with LIFEGUARD_* variables (LIFEGUARD_MAX=30, LIFEGUARD_RESET=always, ...):
 * a bad value fails at start-up, naming the variable and what it accepts.
 */
export function poolConfig(env: Readonly<Record<string, string | undefined>> = process.env) {
  return defineLifeguardConfig({
    max: 10,
    idleTimeoutMillis: 30_000,
    maxLifetimeSeconds: 900,
    prePing: { bypassWindowMillis: 250, timeoutMillis: 1000 },
    leakDetectionThresholdMillis: 30_000,
    evictOnSqlState: ["08", "57P01", "57P02", "57P03", "25006"], // primary only: leave a demoted server
    budget: { instances: 3, reserved: 10 },
    ...lifeguardConfigFromEnv(env),
  });
}
