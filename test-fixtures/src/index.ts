export * from "./conformance.js";
export * from "./database.js";
export * from "./embedded-server.js";
export {
  type FaultMode,
  type FaultProxy,
  type FaultTarget,
  startFaultProxy,
} from "./fault-proxy.js";
export * from "./pgbouncer.js";
// explicit: they take the place of @lifeguard/embedded's own, which they wrap
export {
  type ReplicationClusterOptions,
  startReplicationCluster,
  useReplicationCluster,
} from "./replication.js";
