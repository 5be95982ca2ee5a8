/**
 * `@lifeguard/pg`: the public API (semver), listed in the README's "Public API". What Lifeguard's
 * own packages share beyond it lives in `@lifeguard/pg/internal`; docs/architecture.md says which
 * is which and why.
 */
export { ConnectionBudgetError } from "@lifeguard/core";
export { isLifeguardPool } from "./brand.js";
export type { ConnectionBudget } from "./budget.js";
export type { LifeguardPoolClient } from "./client-handle.js";
export type { ClusterConfig, ClusterStats } from "./cluster/cluster.js";
export { Cluster } from "./cluster/cluster.js";
export type { HostRole, HostSnapshot } from "./cluster/host-state.js";
export { isProvablyReadOnly } from "./cluster/read-only-statement.js";
export type { LoadBalanceHosts, TargetSessionAttrs } from "./cluster/target.js";
export { defineLifeguardConfig, lifeguardConfigFromEnv } from "./config.js";
export type {
  Credentials,
  CredentialsContext,
  CredentialsProvider,
} from "./credentials-api.js";
export { CredentialsUnavailableError } from "./credentials-api.js";
export { HostRoleMismatchError, NoMatchingHostError, WriteOnReaderError } from "./errors.js";
export type { SharedPoolOptions } from "./hot-reload.js";
export type {
  ListenGap,
  ListenHandler,
  ListenNotification,
  ListenOptions,
  ListenSubscription,
} from "./listen-api.js";
export { ListenTimeoutError } from "./listen-api.js";
export type {
  LifeguardPgOptions,
  PgBouncerMode,
  PipelineQueriesOptions,
  PoolConfig,
  ResetMode,
} from "./options.js";
export type { PoolTestingOptions } from "./pool.js";
export { Pool } from "./pool.js";
export type { ServerlessPreset, ServerlessPresetOptions } from "./serverless.js";
export { serverlessPresets } from "./serverless.js";
export { defaultEvictOnSqlState } from "./sqlstate.js";
export type { StatementEffect } from "./statement-classifier.js";
export { classifyStatement } from "./statement-classifier.js";
