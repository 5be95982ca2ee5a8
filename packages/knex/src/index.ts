export { LifeguardClient, lifeguardPool } from "./client.js";
export type { LifeguardKnexPoolConfig } from "./pool-options.js";
