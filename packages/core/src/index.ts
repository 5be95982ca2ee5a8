/**
 * `@lifeguard/core`: the public API (semver). What Lifeguard's own packages share beyond it lives
 * in `@lifeguard/core/internal`; docs/architecture.md says which is which and why.
 */
export type {
  AcquireFailedEvent,
  ChannelName,
  CircuitEvent,
  ClockLeapEvent,
  ConnectionAcquireEvent,
  ConnectionCreateErrorEvent,
  ConnectionCreateEvent,
  ConnectionDestroyEvent,
  ConnectionErrorEvent,
  ConnectionEvent,
  ConnectionPingEvent,
  ConnectionReleaseEvent,
  ConnectionSessionEvent,
  LeakEvent,
  PoolCloseEvent,
  PoolEvent,
  PoolLike,
  WarningEvent,
} from "./channels.js";
export { channelNames } from "./channels.js";
export type { Clock, TimerHandle } from "./clock.js";
export { systemClock } from "./clock.js";
export type { ConfigFromEnvOptions } from "./config.js";
export { defineLifeguardConfig, lifeguardConfigFromEnv } from "./config.js";
export type * from "./connector.js";
export type { DestroyReason, EntryState } from "./entry.js";
export { destroyReasons } from "./entry.js";
export type { LifeguardErrorCode } from "./errors.js";
export {
  AcquireAbortedError,
  AcquireTimeoutError,
  ConnectionBudgetError,
  ConnectTimeoutError,
  DatabaseUnavailableError,
  InvalidOptionError,
  LeaseReleasedError,
  LifeguardError,
  PingTimeoutError,
  PoolClosedError,
  PoolQueueFullError,
} from "./errors.js";
export type { ReleaseOptions } from "./lease.js";
export { Lease } from "./lease.js";
export { ManualClock } from "./manual-clock.js";
export type { LifeguardOptions, PoolOptions, PrePingOptions } from "./options.js";
export type { AcquireOptions, CloseReport, EvictOptions, OutstandingLease } from "./pool.js";
export { createPool, Pool } from "./pool.js";
export { listPools } from "./registry.js";
export type { ServerStats } from "./server-stats.js";
export type { PoolCounters, PoolState, PoolStats } from "./stats.js";
