// pg-pool ships no types and @types/pg-pool ties the client to pg.Client; the benchmark drives it
// with a stub client, so it declares just the surface it uses.
declare module "pg-pool" {
  import { EventEmitter } from "node:events";

  interface PgPoolOptions {
    max?: number;
    min?: number;
    idleTimeoutMillis?: number;
    connectionTimeoutMillis?: number;
    maxUses?: number;
    maxLifetimeSeconds?: number;
    allowExitOnIdle?: boolean;
  }

  type PooledClient<T> = T & { release(error?: Error | boolean): void };

  class Pool<T> extends EventEmitter {
    constructor(options: PgPoolOptions | undefined, Client: new (options: PgPoolOptions) => T);
    connect(): Promise<PooledClient<T>>;
    end(): Promise<void>;
    readonly totalCount: number;
    readonly idleCount: number;
    readonly waitingCount: number;
  }

  export default Pool;
}
