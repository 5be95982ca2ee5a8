import type { PoolLike } from "./channels.js";
import { channels } from "./channels.js";
import type { DestroyReason } from "./entry.js";

/**
 * The pool's `diagnostics_channel` events, one function each, so the payload shapes live in one
 * place. Each checks `hasSubscribers` before building its payload: an unobserved pool allocates
 * nothing for events. The payloads are fresh objects (a subscriber may keep one).
 * @internal
 */

export function publishPoolCreate(pool: PoolLike): void {
  if (channels.poolCreate.hasSubscribers) channels.poolCreate.publish({ pool });
}

export function publishPoolClose(pool: PoolLike, forced: boolean, leasesOutstanding: number): void {
  if (channels.poolClose.hasSubscribers) {
    channels.poolClose.publish({ pool, forced, leasesOutstanding });
  }
}

export function publishAcquire(pool: PoolLike, connectionId: number, waitMillis: number): void {
  if (channels.connectionAcquire.hasSubscribers) {
    channels.connectionAcquire.publish({ pool, connectionId, waitMillis });
  }
}

export function publishRelease(pool: PoolLike, connectionId: number, useMillis: number): void {
  if (channels.connectionRelease.hasSubscribers) {
    channels.connectionRelease.publish({ pool, connectionId, useMillis });
  }
}

/** An acquire that failed: `acquireTimeout`, `queueFull` or `unavailable`. */
export function publishAcquireFailed(
  channel: "acquireTimeout" | "queueFull" | "unavailable",
  pool: PoolLike,
  waitMillis: number,
  error: Error,
): void {
  const target = channels[channel];
  if (target.hasSubscribers) target.publish({ pool, waitMillis, error });
}

export function publishCreate(pool: PoolLike, connectionId: number, durationMillis: number): void {
  if (channels.connectionCreate.hasSubscribers) {
    channels.connectionCreate.publish({ pool, connectionId, durationMillis });
  }
}

export function publishCreateError(
  pool: PoolLike,
  durationMillis: number,
  error: unknown,
  failures: number,
  retryInMillis: number,
): void {
  if (channels.connectionCreateError.hasSubscribers) {
    channels.connectionCreateError.publish({
      pool,
      durationMillis,
      error,
      failures,
      retryInMillis,
    });
  }
}

export function publishDestroy(pool: PoolLike, connectionId: number, reason: DestroyReason): void {
  if (channels.connectionDestroy.hasSubscribers) {
    channels.connectionDestroy.publish({ pool, connectionId, reason });
  }
}

export function publishPing(
  pool: PoolLike,
  connectionId: number,
  result: "ok" | "failed" | "timeout",
  durationMillis: number,
  error: unknown,
): void {
  if (channels.connectionPing.hasSubscribers) {
    channels.connectionPing.publish({
      pool,
      connectionId,
      result,
      durationMillis,
      ...(error === undefined ? {} : { error }),
    });
  }
}

export function publishCircuitOpen(pool: PoolLike, error: unknown): void {
  if (channels.circuitOpen.hasSubscribers) channels.circuitOpen.publish({ pool, error });
}

export function publishCircuitClose(pool: PoolLike): void {
  if (channels.circuitClose.hasSubscribers) {
    channels.circuitClose.publish({ pool, error: undefined });
  }
}

export function publishClockLeap(pool: PoolLike, jumpMillis: number): void {
  if (channels.clockLeap.hasSubscribers) channels.clockLeap.publish({ pool, jumpMillis });
}
