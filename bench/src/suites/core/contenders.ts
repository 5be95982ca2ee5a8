import type { Pool } from "@lifeguard/core";
import type genericPool from "generic-pool";
import type PgPool from "pg-pool";
import type { Pool as TarnPool } from "tarn";
import { packageVersion } from "../../framework/environment.js";
import { CLOCK_CHECK_EVERY, measureThroughput } from "../../framework/throughput.js";
import type { Contender, RunContext, Sample } from "../../framework/types.js";
import { subscribeMetrics } from "../common/subscriber.js";
import {
  withGenericStubPool,
  withLifeguardStubPool,
  withPgStubPool,
  withPools,
  withTarnStubPool,
} from "./pools.js";
import type { StubConnection, StubPgClient } from "./stubs.js";
import { openStub } from "./stubs.js";

export { POOL_SIZE } from "./pools.js";

export interface CoreParams {
  readonly concurrency: number;
  /** Live pools the loops share, each loop cycling through them round-robin (1 when absent). */
  readonly pools?: number;
}

type CoreContender = Contender<CoreParams>;

function sample(result: { perSecond: number; nsPerOperation: number }): Sample {
  return { cyclesPerSecond: result.perSecond, nsPerCycle: result.nsPerOperation };
}

/**
 * One sample of `count` live pools from pools.ts: `concurrency` loops of the contender's own
 * `worker` on them. Shared set-up only: `worker` is called once per loop, and the cycles run inside it.
 */
async function measurePool<P>(
  withPool: <R>(use: (pool: P) => Promise<R>) => Promise<R>,
  worker: (pools: readonly P[], stopAt: number) => Promise<number>,
  params: CoreParams,
  context: Pick<RunContext<unknown>, "durationMillis">,
): Promise<Sample> {
  return withPools(withPool, params.pools ?? 1, async (pools) =>
    sample(
      await measureThroughput(params.concurrency, context.durationMillis, (stopAt) =>
        worker(pools, stopAt),
      ),
    ),
  );
}

// Each contender has its own copy of the loop (not one shared function taking callbacks), so each
// call site sees one pool class only and no wrapper promise is added per cycle.

// -------------------------------------------------------------------------------------------------
// Lifeguard

async function lifeguardWorker(
  pools: readonly Pool<StubConnection>[],
  stopAt: number,
): Promise<number> {
  let cycles = 0;
  let next = 0;
  do {
    for (let i = 0; i < CLOCK_CHECK_EVERY; i++) {
      const pool = pools[next] as Pool<StubConnection>;
      next = next + 1 === pools.length ? 0 : next + 1;
      const lease = await pool.acquire();
      lease.release();
    }
    cycles += CLOCK_CHECK_EVERY;
  } while (performance.now() < stopAt);
  return cycles;
}

export const lifeguard: CoreContender = {
  id: "lifeguard",
  label: "Lifeguard",
  version: `${packageVersion("@lifeguard/core")} (working tree)`,
  note:
    "`createPool({ connector, max: 10, leakDetectionThresholdMillis: 0 })`: pre-ping on with the default 500 ms bypass window " +
    "(so the free `isBroken` check and the lifetime check run on every borrow, the round trip is skipped), default " +
    "`maxLifetimeSeconds` (1800), leak detection off, and a `diagnostics_channel` subscriber on " +
    "`lifeguard:connection:acquire` and `lifeguard:connection:release` that reads each payload.",
  async run(params, context) {
    return sample(await runLifeguard(params.concurrency, context, params.pools ?? 1));
  },
};

/** Also used by the CPU-profile helper. */
export async function runLifeguard(
  concurrency: number,
  context: Pick<RunContext<unknown>, "durationMillis">,
  poolCount = 1,
) {
  subscribeMetrics();
  return withPools(withLifeguardStubPool, poolCount, (pools) =>
    measureThroughput(concurrency, context.durationMillis, (stopAt) =>
      lifeguardWorker(pools, stopAt),
    ),
  );
}

// -------------------------------------------------------------------------------------------------
// pg-pool (the pool inside pg.Pool)

async function pgPoolWorker(
  pools: readonly PgPool<StubPgClient>[],
  stopAt: number,
): Promise<number> {
  let cycles = 0;
  let next = 0;
  do {
    for (let i = 0; i < CLOCK_CHECK_EVERY; i++) {
      const pool = pools[next] as PgPool<StubPgClient>;
      next = next + 1 === pools.length ? 0 : next + 1;
      const client = await pool.connect();
      client.release();
    }
    cycles += CLOCK_CHECK_EVERY;
  } while (performance.now() < stopAt);
  return cycles;
}

export const pgPool: CoreContender = {
  id: "pg-pool",
  label: "pg-pool",
  version: packageVersion("pg-pool"),
  note:
    "`new Pool({ max: 10 }, StubPgClient)`, otherwise pg's defaults (`idleTimeoutMillis` 10000, no connection timeout); " +
    "the stub client is an `EventEmitter` whose `connect(cb)` calls back in a microtask.",
  run: (params, context) => measurePool(withPgStubPool, pgPoolWorker, params, context),
};

// -------------------------------------------------------------------------------------------------
// tarn (the pool inside Knex)

async function tarnWorker(
  pools: readonly TarnPool<StubConnection>[],
  stopAt: number,
): Promise<number> {
  let cycles = 0;
  let next = 0;
  do {
    for (let i = 0; i < CLOCK_CHECK_EVERY; i++) {
      const pool = pools[next] as TarnPool<StubConnection>;
      next = next + 1 === pools.length ? 0 : next + 1;
      const connection = await pool.acquire().promise;
      pool.release(connection);
    }
    cycles += CLOCK_CHECK_EVERY;
  } while (performance.now() < stopAt);
  return cycles;
}

export const tarn: CoreContender = {
  id: "tarn",
  label: "tarn",
  version: packageVersion("tarn"),
  note:
    "`new Pool({ create, destroy, validate, min: 0, max: 10 })`, otherwise tarn's defaults; `create` resolves " +
    "a stub at once, `validate` is the same `isBroken` check Lifeguard's connector does.",
  run: (params, context) => measurePool(withTarnStubPool, tarnWorker, params, context),
};

// -------------------------------------------------------------------------------------------------
// generic-pool

async function genericPoolWorker(
  pools: readonly genericPool.Pool<StubConnection>[],
  stopAt: number,
): Promise<number> {
  let cycles = 0;
  let next = 0;
  do {
    for (let i = 0; i < CLOCK_CHECK_EVERY; i++) {
      const pool = pools[next] as genericPool.Pool<StubConnection>;
      next = next + 1 === pools.length ? 0 : next + 1;
      const connection = await pool.acquire();
      void pool.release(connection);
    }
    cycles += CLOCK_CHECK_EVERY;
  } while (performance.now() < stopAt);
  return cycles;
}

export const genericPoolContender: CoreContender = {
  id: "generic-pool",
  label: "generic-pool",
  version: packageVersion("generic-pool"),
  note:
    "`createPool({ create, destroy, validate }, { max: 10, min: 0 })`, otherwise generic-pool's defaults " +
    "(`testOnBorrow` off, no evictor); `validate` is the same `isBroken` check.",
  run: (params, context) => measurePool(withGenericStubPool, genericPoolWorker, params, context),
};

// -------------------------------------------------------------------------------------------------
// the floor: what one await costs, with no pool at all

async function floorWorker(connection: StubConnection, stopAt: number): Promise<number> {
  let cycles = 0;
  do {
    for (let i = 0; i < CLOCK_CHECK_EVERY; i++) {
      const held = await Promise.resolve(connection);
      if (held.broken) throw new Error("unreachable");
    }
    cycles += CLOCK_CHECK_EVERY;
  } while (performance.now() < stopAt);
  return cycles;
}

export const floor: CoreContender = {
  id: "floor",
  label: "floor: await Promise.resolve()",
  reference: true,
  note: "no pool: each cycle is one `await Promise.resolve(connection)`, the least an async acquire can cost.",
  async run({ concurrency }, context) {
    const connection = openStub();
    return sample(
      await measureThroughput(concurrency, context.durationMillis, (stopAt) =>
        floorWorker(connection, stopAt),
      ),
    );
  },
};
