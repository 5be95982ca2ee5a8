import { InvalidOptionError } from "@lifeguard/core";

/** tarn.js settings with no Lifeguard meaning: what to use instead. */
export const refusedTarnSettings: Readonly<Record<string, string>> = {
  createTimeoutMillis:
    'Lifeguard bounds opening a connection by the caller\'s acquire deadline: use "acquireTimeoutMillis" (or Knex\'s "acquireConnectionTimeout").',
  createRetryIntervalMillis:
    "Lifeguard retries failed connects by itself with exponential backoff (10 ms doubling to 5 s) and fails acquires fast with DatabaseUnavailableError while the database is down; remove the option.",
  reapIntervalMillis:
    'Lifeguard checks idle connections on one housekeeping timer of its own; "idleTimeoutMillis" sets when they close.',
  log: "Lifeguard publishes its events on node:diagnostics_channel (lifeguard:pool:*, lifeguard:connection:*); subscribe there, or use @lifeguard/otel or @lifeguard/prometheus.",
};

/** tarn.js settings LifeguardClient translates (Knex's `maxConnectionLifetimeMillis` is separate). */
export const mappedTarnSettings = [
  "destroyTimeoutMillis",
  "maxConnectionLifetimeJitterMillis",
  "propagateCreateError",
] as const;

/**
 * Rewrites tarn settings that have a Lifeguard meaning into Lifeguard's options (in place), and
 * returns one line per setting for the client's single warning. `lifetimeMillis` is Knex's
 * `maxConnectionLifetimeMillis`, which the jitter is relative to.
 */
export function mapTarnSettings(
  options: Record<string, unknown>,
  lifetimeMillis: number | undefined,
): string[] {
  const notes: string[] = [];
  const take = (key: string): unknown => {
    const value = options[key];
    delete options[key];
    return value;
  };

  const destroyTimeout = take("destroyTimeoutMillis");
  if (destroyTimeout !== undefined) {
    refuseBoth("destroyTimeoutMillis", "shutdownTimeoutMillis", options);
    options["shutdownTimeoutMillis"] = destroyTimeout;
    notes.push(
      `"destroyTimeoutMillis" is used as "shutdownTimeoutMillis": how long knex.destroy() waits for connections in use.`,
    );
  }

  const propagate = take("propagateCreateError");
  if (propagate === false) {
    throw new InvalidOptionError(
      "pool.propagateCreateError",
      `Knex pool option "propagateCreateError" cannot be false with LifeguardClient: connect failures always reach the waiting callers (DatabaseUnavailableError while the database is down). Remove the option; true is what Lifeguard does.`,
    );
  }
  if (propagate !== undefined && propagate !== true) {
    throw new InvalidOptionError(
      "pool.propagateCreateError",
      `Invalid option "pool.propagateCreateError": expected true (Lifeguard's behaviour) or no value; got ${String(propagate)}.`,
    );
  }

  const jitter = take("maxConnectionLifetimeJitterMillis");
  if (jitter !== undefined) {
    refuseBoth("maxConnectionLifetimeJitterMillis", "lifetimeJitter", options);
    if (typeof jitter !== "number" || !(jitter >= 0) || !Number.isFinite(jitter)) {
      throw new InvalidOptionError(
        "pool.maxConnectionLifetimeJitterMillis",
        `Invalid option "pool.maxConnectionLifetimeJitterMillis": expected a number of milliseconds from 0 to half of "maxConnectionLifetimeMillis"; got ${String(jitter)}.`,
      );
    }
    if (lifetimeMillis === undefined || lifetimeMillis === 0) {
      notes.push(
        `"maxConnectionLifetimeJitterMillis" has no effect without "maxConnectionLifetimeMillis" (as in Knex).`,
      );
    } else {
      const fraction = jitter / lifetimeMillis;
      if (fraction > 0.5) {
        throw new InvalidOptionError(
          "pool.maxConnectionLifetimeJitterMillis",
          `Invalid option "pool.maxConnectionLifetimeJitterMillis": expected 0 to ${lifetimeMillis / 2} (half of "maxConnectionLifetimeMillis"); got ${jitter}.`,
        );
      }
      options["lifetimeJitter"] = fraction;
      notes.push(
        `"maxConnectionLifetimeJitterMillis" is used as "lifetimeJitter: ${fraction}": connections retire up to ${jitter} ms before "maxConnectionLifetimeMillis", where tarn retires them up to that much after.`,
      );
    }
  }
  return notes;
}

function refuseBoth(tarnKey: string, lifeguardKey: string, options: Record<string, unknown>): void {
  if (options[lifeguardKey] !== undefined) {
    throw new InvalidOptionError(
      `pool.${tarnKey}`,
      `Options "${tarnKey}" and "${lifeguardKey}" are the same setting with LifeguardClient; pass one.`,
    );
  }
}
