/**
 * `@lifeguard/core/internal`: what Lifeguard's own packages (pg, otel, prometheus, cli, the ORM
 * adapters, the bench and the tests) share, outside semver. It may change in any release; an
 * application should import from `@lifeguard/core` only. See docs/architecture.md ("Public and
 * internal").
 */
export { BACKOFF_INITIAL_MILLIS, BACKOFF_MAX_MILLIS, backoffDelay } from "./backoff.js";
/** The channel objects, for connectors that publish (subscribers use `channelNames`). */
export { channels } from "./channels.js";
export type { EnvSchema, EnvVariable } from "./config.js";
export { configFromEnv, envName, envSchemaOf, lifeguardEnvSchema } from "./config.js";
export { HOUSEKEEPING_INTERVAL_MILLIS } from "./housekeeper.js";
export type { NumberOptionDefinition, OptionSpec, OptionTable } from "./options.js";
export {
  checkNumber,
  checkOption,
  describeRule,
  describeSpec,
  lifeguardOptionKeys,
  lifeguardOptionTable,
  numberOptions,
  prePingOptions,
  unknownOption,
} from "./options.js";
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
