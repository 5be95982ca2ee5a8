import type { ConnectionInfo, PoolLike } from "@lifeguard/core";
import { channels } from "@lifeguard/core/internal";

/**
 * Publishes what the pg connector reports on core's diagnostics channels, with the engine as the
 * event's pool: the connector itself knows only the context of each call, never the pool object.
 */

/** A warning on `lifeguard:pool:warning`, or `process.emitWarning` when nobody subscribes. */
export function publishWarning(
  pool: PoolLike,
  code: string,
  message: (poolName: string) => string,
): void {
  const text = message(pool.name);
  if (channels.warning.hasSubscribers) {
    channels.warning.publish({ pool, code, message: text });
  } else {
    process.emitWarning(text, { type: "LifeguardWarning", code });
  }
}

/** A finished ROLLBACK or reset, on its session channel. */
export function publishSessionCleaned(
  pool: PoolLike,
  step: "rollback" | "reset",
  info: ConnectionInfo,
): void {
  const channel = step === "reset" ? channels.connectionReset : channels.connectionRollback;
  if (!channel.hasSubscribers) return;
  channel.publish({ pool, connectionId: info.id, acquireStack: info.acquireStack });
}

/** An idle client's error, on `lifeguard:connection:error`. */
export function publishIdleError(pool: PoolLike, error: Error): void {
  if (channels.connectionError.hasSubscribers) channels.connectionError.publish({ pool, error });
}
