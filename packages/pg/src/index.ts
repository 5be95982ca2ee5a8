export { ConnectionBudgetError } from "@lifeguard/core";
export type { ConnectionBudget } from "./budget.js";
export type { LifeguardPoolClient } from "./client-handle.js";
export { defineLifeguardConfig, lifeguardConfigFromEnv, pgEnvSchema } from "./config.js";
export type {
  PgBouncerMode,
  PgConnectorHooks,
  PgConnectorOptions,
  ResetMode,
} from "./connector.js";
export { PgConnector } from "./connector.js";
export type { SharedPoolOptions } from "./hot-reload.js";
export type {
  ListenGap,
  ListenHandler,
  ListenNotification,
  ListenOptions,
  ListenSubscription,
} from "./listen-api.js";
export { ListenTimeoutError } from "./listen-api.js";
export type { LifeguardPgOptions, PoolConfig } from "./options.js";
export { lifeguardPgOptionKeys } from "./options.js";
export type { PoolTestingOptions } from "./pool.js";
export { Pool } from "./pool.js";
export { defaultEvictOnSqlState, parseEvictOnSqlState, sqlStateClassifier } from "./sqlstate.js";
export type { StatementEffect } from "./statement-classifier.js";
export { classifyStatement } from "./statement-classifier.js";
