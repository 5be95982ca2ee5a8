/**
 * `@lifeguard/pg/internal`: what Lifeguard's own packages (the ORM adapters, the scripts, the
 * tests) share beyond the public API, outside semver. It may change in any release; an application
 * should import from `@lifeguard/pg` only. See docs/architecture.md ("Public and internal").
 */

export type {
  ClusterClientConfig,
  ClusterConfig,
  ClusterConfigFields,
  ClusterHost,
  LoadBalanceHosts,
  ParseClusterConfigOptions,
  TargetSessionAttrs,
} from "./cluster/conninfo.js";
/** The multi-host connection parser (libpq's rules), for the cluster pool until it is public. */
export {
  clusterHostConfig,
  isMultiHost,
  loadBalanceHostsValues,
  parseClusterConfig,
  targetSessionAttrsValues,
} from "./cluster/conninfo.js";
export { pgEnvSchema } from "./config.js";
export type { PgConnectorHooks, PgConnectorOptions } from "./connector.js";
/** The connector on its own, for tests of the connector seam. */
export { PgConnector } from "./connector.js";
/** Every option key the Pool takes beyond pg's, for adapters that split a configuration. */
export { lifeguardPgOptionKeys } from "./options.js";
export { parseEvictOnSqlState, sqlStateClassifier } from "./sqlstate.js";
