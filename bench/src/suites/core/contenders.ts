import diagnosticsChannel from "node:diagnostics_channel";
import type { ConnectionAcquireEvent, ConnectionReleaseEvent, Pool } from "@lifeguard/core";
import { channelNames, createPool } from "@lifeguard/core";
import genericPool from "generic-pool";
import PgPool from "pg-pool";
import { Pool as TarnPool } from "tarn";
import { packageVersion } from "../../framework/environment.js";
import { CLOCK_CHECK_EVERY, measureThroughput } from "../../framework/throughput.js";
import type { Contender, RunContext, Sample } from "../../framework/types.js";
import type { StubConnection } from "./stubs.js";
import { isBroken, openStub, StubPgClient, stubConnector } from "./stubs.js";

export interface CoreParams {
  readonly concurrency: number;
}

/** Pool size for every contender. */
export const POOL_SIZE = 10;

type CoreContender = Contender<CoreParams>;

function sample(result: { perSecond: number; nsPerOperation: number }): Sample {
  return { cyclesPerSecond: result.perSecond, nsPerCycle: result.nsPerOperation };
}

/** Pools each contender builds, exercises and closes while warming up. */
export const CONSTRUCTION_WARMUP_POOLS = 8;

/**
 * Every sample uses a fresh pool, so warming up must include building pools, not only running one:
 * V8 finishes in-object slack tracking of a class after its 7th instance, and when that happens in
 * the middle of the measured rounds it throws away code optimized earlier (we measured Lifeguard
 * settling ~45% slower for the rest of the process when its 7th pool was built mid-run, and no
 * slowdown when 7 pools had been built first). So during the warm-up sample each contender builds,
 * exercises and closes 8 pools before the (discarded) warm-up sample itself. Same for every contender.
 */
export function withConstructionWarmup(contender: CoreContender): CoreContender {
  return {
    ...contender,
    async run(params, context) {
      if (context.warmup) {
        for (let i = 0; i < CONSTRUCTION_WARMUP_POOLS; i++) {
          await contender.run(params, { ...context, durationMillis: 20 });
        }
      }
      return contender.run(params, context);
    },
  };
}

// Each contender has its own copy of the loop (not one shared function taking callbacks), so each
// call site sees one pool class only and no wrapper promise is added per cycle.

// -------------------------------------------------------------------------------------------------
// Lifeguard

/** What the diagnostics subscriber does: trivial work that reads the payload. */
let observed = 0;
const onAcquire = (message: unknown) => {
  observed += (message as ConnectionAcquireEvent).connectionId;
};
const onRelease = (message: unknown) => {
  observed += (message as ConnectionReleaseEvent).useMillis > 1e9 ? 1 : 0;
};

async function lifeguardWorker(pool: Pool<StubConnection>, stopAt: number): Promise<number> {
  let cycles = 0;
  do {
    for (let i = 0; i < CLOCK_CHECK_EVERY; i++) {
      const lease = await pool.acquire();
      lease.release();
    }
    cycles += CLOCK_CHECK_EVERY;
  } while (performance.now() < stopAt);
  return cycles;
}

/** Opens every connection first so each pool starts the timed part with `POOL_SIZE` idle. */
async function prefillLifeguard(pool: Pool<StubConnection>): Promise<void> {
  const leases = await Promise.all(Array.from({ length: POOL_SIZE }, () => pool.acquire()));
  for (const lease of leases) lease.release();
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
  async run({ concurrency }, context) {
    return sample(await runLifeguard(concurrency, context));
  },
};

/**
 * Subscribed once and left subscribed, as an application's metrics would be (subscribing per sample
 * would flip the channels between their inactive and active classes every time).
 */
let subscribed = false;

/** Also used by the CPU-profile helper. */
export async function runLifeguard(
  concurrency: number,
  context: Pick<RunContext<unknown>, "durationMillis">,
) {
  if (!subscribed) {
    diagnosticsChannel.subscribe(channelNames.connectionAcquire, onAcquire);
    diagnosticsChannel.subscribe(channelNames.connectionRelease, onRelease);
    subscribed = true;
  }
  const pool = createPool({
    connector: stubConnector,
    max: POOL_SIZE,
    leakDetectionThresholdMillis: 0,
  });
  try {
    await prefillLifeguard(pool);
    return await measureThroughput(concurrency, context.durationMillis, (stopAt) =>
      lifeguardWorker(pool, stopAt),
    );
  } finally {
    await pool.close();
  }
}

// -------------------------------------------------------------------------------------------------
// pg-pool (the pool inside pg.Pool)

async function pgPoolWorker(pool: PgPool<StubPgClient>, stopAt: number): Promise<number> {
  let cycles = 0;
  do {
    for (let i = 0; i < CLOCK_CHECK_EVERY; i++) {
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
  async run({ concurrency }, context) {
    const pool = new PgPool<StubPgClient>({ max: POOL_SIZE }, StubPgClient);
    try {
      const clients = await Promise.all(Array.from({ length: POOL_SIZE }, () => pool.connect()));
      for (const client of clients) client.release();
      return sample(
        await measureThroughput(concurrency, context.durationMillis, (stopAt) =>
          pgPoolWorker(pool, stopAt),
        ),
      );
    } finally {
      await pool.end();
    }
  },
};

// -------------------------------------------------------------------------------------------------
// tarn (the pool inside Knex)

async function tarnWorker(pool: TarnPool<StubConnection>, stopAt: number): Promise<number> {
  let cycles = 0;
  do {
    for (let i = 0; i < CLOCK_CHECK_EVERY; i++) {
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
  async run({ concurrency }, context) {
    const pool = new TarnPool<StubConnection>({
      create: () => Promise.resolve(openStub()),
      destroy: () => {},
      validate: (connection) => !isBroken(connection),
      min: 0,
      max: POOL_SIZE,
    });
    try {
      const held = await Promise.all(
        Array.from({ length: POOL_SIZE }, () => pool.acquire().promise),
      );
      for (const connection of held) pool.release(connection);
      return sample(
        await measureThroughput(concurrency, context.durationMillis, (stopAt) =>
          tarnWorker(pool, stopAt),
        ),
      );
    } finally {
      await pool.destroy();
    }
  },
};

// -------------------------------------------------------------------------------------------------
// generic-pool

async function genericPoolWorker(
  pool: genericPool.Pool<StubConnection>,
  stopAt: number,
): Promise<number> {
  let cycles = 0;
  do {
    for (let i = 0; i < CLOCK_CHECK_EVERY; i++) {
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
  async run({ concurrency }, context) {
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
      return sample(
        await measureThroughput(concurrency, context.durationMillis, (stopAt) =>
          genericPoolWorker(pool, stopAt),
        ),
      );
    } finally {
      await pool.drain();
      await pool.clear();
    }
  },
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

/** Keeps the subscriber's work observable so it is not optimised away. */
export function observedByDiagnostics(): number {
  return observed;
}
