export {
  type EmbeddedPostgres,
  type EmbeddedPostgresOptions,
  startEmbeddedPostgres,
} from "./embedded-server.js";
export {
  type FaultMode,
  type FaultProxy,
  type FaultTarget,
  startFaultProxy,
} from "./fault-proxy.js";
export {
  freePort,
  launchServer,
  ManagedServer,
  type ManagedServerOptions,
  makeServerTempDir,
  type OrphanShutdown,
  type ServerShutdown,
  ServerStartError,
  type ServerTempDirOptions,
  type ServerUser,
  serverUser,
} from "./process.js";
export {
  type ClusterNode,
  type ReplicationCluster,
  type ReplicationClusterOptions,
  startReplicationCluster,
} from "./replication.js";
