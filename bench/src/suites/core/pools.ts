/**
 * The core suite's pools over the stub connection, as the suites built on its cycle (core, garbage,
 * metrics) configure them: each built with `POOL_SIZE` connections opened before the measurement,
 * handed to `use`, and closed afterwards. The measured loops stay in the suites, one per pool class
 * (see core/contenders.ts).
 */
import type { Pool } from "@lifeguard/core";
import { createPool } from "@lifeguard/core";
import genericPool from "generic-pool";
import PgPool from "pg-pool";
import { Pool as TarnPool } from "tarn";
import type { StubConnection } from "./stubs.js";
import { isBroken, openStub, StubPgClient, stubConnector } from "./stubs.js";

/** Pool size for every contender. */
export const POOL_SIZE = 10;

/** `count` live pools from one of the builders below, all open for the whole of `use`. */
export async function withPools<P, T>(
  withPool: <R>(use: (pool: P) => Promise<R>) => Promise<R>,
  count: number,
  use: (pools: readonly P[]) => Promise<T>,
): Promise<T> {
  const pools: P[] = [];
  const open = async (): Promise<T> => {
    if (pools.length === count) return use(pools);
    return withPool(async (pool) => {
      pools.push(pool);
      return open();
    });
  };
  return open();
}

/** `createPool({ connector, max: 10, leakDetectionThresholdMillis: 0 })`: Lifeguard's defaults otherwise. */
export async function withLifeguardStubPool<T>(
  use: (pool: Pool<StubConnection>) => Promise<T>,
): Promise<T> {
  const pool = createPool({
    connector: stubConnector,
    max: POOL_SIZE,
    leakDetectionThresholdMillis: 0,
  });
  try {
    const leases = await Promise.all(Array.from({ length: POOL_SIZE }, () => pool.acquire()));
    for (const lease of leases) lease.release();
    return await use(pool);
  } finally {
    await pool.close();
  }
}

/** `new Pool({ max: 10 }, StubPgClient)`: pg-pool's defaults otherwise. */
export async function withPgStubPool<T>(
  use: (pool: PgPool<StubPgClient>) => Promise<T>,
): Promise<T> {
  const pool = new PgPool<StubPgClient>({ max: POOL_SIZE }, StubPgClient);
  try {
    const clients = await Promise.all(Array.from({ length: POOL_SIZE }, () => pool.connect()));
    for (const client of clients) client.release();
    return await use(pool);
  } finally {
    await pool.end();
  }
}

/** `new Pool({ create, destroy, validate, min: 0, max: 10 })`: tarn's defaults otherwise. */
export async function withTarnStubPool<T>(
  use: (pool: TarnPool<StubConnection>) => Promise<T>,
): Promise<T> {
  const pool = new TarnPool<StubConnection>({
    create: () => Promise.resolve(openStub()),
    destroy: () => {},
    validate: (connection) => !isBroken(connection),
    min: 0,
    max: POOL_SIZE,
  });
  try {
    const held = await Promise.all(Array.from({ length: POOL_SIZE }, () => pool.acquire().promise));
    for (const connection of held) pool.release(connection);
    return await use(pool);
  } finally {
    await pool.destroy();
  }
}

/** `createPool({ create, destroy, validate }, { max: 10, min: 0 })`: generic-pool's defaults otherwise. */
export async function withGenericStubPool<T>(
  use: (pool: genericPool.Pool<StubConnection>) => Promise<T>,
): Promise<T> {
  const pool = genericPool.createPool<StubConnection>(
    {
      create: () => Promise.resolve(openStub()),
      destroy: () => Promise.resolve(),
      validate: (connection) => Promise.resolve(!isBroken(connection)),
    },
    { max: POOL_SIZE, min: 0 },
  );
  try {
    const held = await Promise.all(Array.from({ length: POOL_SIZE }, () => pool.acquire()));
    for (const connection of held) await pool.release(connection);
    return await use(pool);
  } finally {
    await pool.drain();
    await pool.clear();
  }
}
