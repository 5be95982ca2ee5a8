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
export * from "./replication.js";
