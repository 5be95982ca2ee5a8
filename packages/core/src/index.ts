export { BACKOFF_INITIAL_MILLIS, BACKOFF_MAX_MILLIS, backoffDelay } from "./backoff.js";
export * from "./channels.js";
export type { Clock, TimerHandle } from "./clock.js";
export { systemClock } from "./clock.js";
export type { ConfigFromEnvOptions, EnvSchema, EnvVariable } from "./config.js";
export {
  configFromEnv,
  defineLifeguardConfig,
  envName,
  lifeguardConfigFromEnv,
  lifeguardEnvSchema,
} from "./config.js";
export type * from "./connector.js";
export type { DestroyReason, EntryState } from "./entry.js";
export { destroyReasons } from "./entry.js";
export * from "./errors.js";
export { HOUSEKEEPING_INTERVAL_MILLIS } from "./housekeeper.js";
export type { ReleaseOptions } from "./lease.js";
export { Lease } from "./lease.js";
export { ManualClock } from "./manual-clock.js";
export type {
  LifeguardOptions,
  NumberOptionDefinition,
  PoolOptions,
  PrePingOptions,
} from "./options.js";
export {
  checkNumber,
  describeRule,
  lifeguardOptionKeys,
  numberOptions,
  prePingOptions,
  unknownOption,
} from "./options.js";
export type { AcquireOptions, CloseReport, OutstandingLease } from "./pool.js";
export { createPool, Pool } from "./pool.js";
export type { DurationSink, SeriesSnapshot } from "./pool-series.js";
/** For metric exporters: one series per pool name, fed by the channels and stats(). */
export {
  checkBuckets,
  defaultTimeBuckets,
  PoolSeries,
  PoolSeriesTracker,
  SeriesCounters,
  sharedPoolSeriesTracker,
  TimeHistogram,
} from "./pool-series.js";
export { listPools } from "./registry.js";
export type { PoolCounters, PoolState, PoolStats } from "./stats.js";
