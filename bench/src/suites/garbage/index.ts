import { GCProfiler } from "node:v8";
import type { Pool } from "@lifeguard/core";
import type genericPool from "generic-pool";
import type PgPool from "pg-pool";
import type { Pool as TarnPool } from "tarn";
import { packageVersion } from "../../framework/environment.js";
import { collectGarbage } from "../../framework/gc.js";
import type { Contender, Sample, Suite } from "../../framework/types.js";
import { subscribeMetrics } from "../common/subscriber.js";
import {
  POOL_SIZE,
  withGenericStubPool,
  withLifeguardStubPool,
  withPgStubPool,
  withTarnStubPool,
} from "../core/pools.js";
import type { StubConnection, StubPgClient } from "../core/stubs.js";
import { openStub } from "../core/stubs.js";

interface GarbageParams {
  readonly concurrency: number;
}

type GarbageContender = Contender<GarbageParams>;

/** Acquire+release cycles in one measuring window (split over the loops). */
const CYCLES = 10_000;
/** Cycles run on the same pool just before the window, so nothing is compiled inside it. */
const WARM_CYCLES = 2_000;
/** Young generation of the contenders' processes, in MB: room for a window's garbage. */
const SEMI_SPACE_MB = 64;
/** Windows that saw a collection are measured again, this many times at most. */
const ATTEMPTS = 5;

/**
 * Bytes allocated per cycle: with a young generation far larger than a window's garbage, and a full
 * collection just before it, no collection runs inside the window, so `heapUsed` only grows and its
 * growth is exactly what the window allocated (dead or alive). `v8.GCProfiler` says whether a
 * collection did run inside; such a window is thrown away and measured again.
 */
async function allocatedPerCycle(
  concurrency: number,
  loop: (cycles: number) => Promise<unknown>,
): Promise<number> {
  await runLoops(concurrency, WARM_CYCLES, loop);
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    collectGarbage();
    const profiler = new GCProfiler();
    profiler.start();
    const before = process.memoryUsage().heapUsed;
    await runLoops(concurrency, CYCLES, loop);
    const after = process.memoryUsage().heapUsed;
    const collections = profiler.stop().statistics.length;
    if (collections === 0) return (after - before) / CYCLES;
  }
  throw new Error(`a garbage collection ran inside all ${ATTEMPTS} measuring windows`);
}

function runLoops(
  concurrency: number,
  cycles: number,
  loop: (cycles: number) => Promise<unknown>,
): Promise<unknown> {
  const loops: Promise<unknown>[] = [];
  const each = Math.floor(cycles / concurrency);
  for (let i = 0; i < concurrency; i++) {
    loops.push(loop(i === 0 ? cycles - each * (concurrency - 1) : each));
  }
  return Promise.all(loops);
}

/**
 * The sample: bytes per cycle, and the same less what the bare loop allocates (one
 * `await Promise.resolve(x)` per cycle, measured just after in the same process and concurrency):
 * the pool's own share.
 */
async function sample(concurrency: number, bytes: number): Promise<Sample> {
  const connection = openStub();
  const loop = await allocatedPerCycle(concurrency, (cycles) => floorLoop(connection, cycles));
  return { bytesPerCycle: bytes, netBytesPerCycle: bytes - loop };
}

/**
 * One sample of a pool from the core suite's pools.ts: `loop` (the contender's own) in every loop,
 * called once per loop; the cycles run inside it.
 */
async function measurePool<P>(
  withPool: (use: (pool: P) => Promise<Sample>) => Promise<Sample>,
  loop: (pool: P, cycles: number) => Promise<void>,
  concurrency: number,
): Promise<Sample> {
  return withPool(async (pool) =>
    sample(concurrency, await allocatedPerCycle(concurrency, (cycles) => loop(pool, cycles))),
  );
}

// One loop per contender (see the core suite): each call site sees one pool class only.

// -------------------------------------------------------------------------------------------------
// Lifeguard, configured as in the core suite

async function lifeguardLoop(pool: Pool<StubConnection>, cycles: number): Promise<void> {
  for (let i = 0; i < cycles; i++) {
    const lease = await pool.acquire();
    lease.release();
  }
}

const lifeguard: GarbageContender = {
  id: "lifeguard",
  label: "Lifeguard",
  version: `${packageVersion("@lifeguard/core")} (working tree)`,
  note:
    "as in the core suite: `createPool({ connector, max: 10, leakDetectionThresholdMillis: 0 })` (pre-ping on " +
    "with its 500 ms bypass window, default lifetime) and a `diagnostics_channel` subscriber on " +
    "`lifeguard:connection:acquire` and `:release` that reads each payload (so the event objects are built).",
  async run({ concurrency }) {
    subscribeMetrics();
    return measurePool(withLifeguardStubPool, lifeguardLoop, concurrency);
  },
};

// -------------------------------------------------------------------------------------------------
// pg-pool

async function pgPoolLoop(pool: PgPool<StubPgClient>, cycles: number): Promise<void> {
  for (let i = 0; i < cycles; i++) {
    const client = await pool.connect();
    client.release();
  }
}

const pgPool: GarbageContender = {
  id: "pg-pool",
  label: "pg-pool",
  version: packageVersion("pg-pool"),
  note: "`new Pool({ max: 10 }, StubPgClient)` with pg's defaults (an idle timer armed on every release), as in the core suite.",
  run: ({ concurrency }) => measurePool(withPgStubPool, pgPoolLoop, concurrency),
};

// -------------------------------------------------------------------------------------------------
// tarn

async function tarnLoop(pool: TarnPool<StubConnection>, cycles: number): Promise<void> {
  for (let i = 0; i < cycles; i++) {
    const connection = await pool.acquire().promise;
    pool.release(connection);
  }
}

const tarn: GarbageContender = {
  id: "tarn",
  label: "tarn",
  version: packageVersion("tarn"),
  note: "as in the core suite: `new Pool({ create, destroy, validate, min: 0, max: 10 })`.",
  run: ({ concurrency }) => measurePool(withTarnStubPool, tarnLoop, concurrency),
};

// -------------------------------------------------------------------------------------------------
// generic-pool

async function genericPoolLoop(
  pool: genericPool.Pool<StubConnection>,
  cycles: number,
): Promise<void> {
  for (let i = 0; i < cycles; i++) {
    const connection = await pool.acquire();
    void pool.release(connection);
  }
}

const genericPoolContender: GarbageContender = {
  id: "generic-pool",
  label: "generic-pool",
  version: packageVersion("generic-pool"),
  note: "as in the core suite: `createPool({ create, destroy, validate }, { max: 10, min: 0 })`.",
  run: ({ concurrency }) => measurePool(withGenericStubPool, genericPoolLoop, concurrency),
};

// -------------------------------------------------------------------------------------------------
// the floor: the loop itself, one await per cycle and no pool

async function floorLoop(connection: StubConnection, cycles: number): Promise<void> {
  for (let i = 0; i < cycles; i++) {
    const held = await Promise.resolve(connection);
    if (held.broken) throw new Error("unreachable");
  }
}

const floor: GarbageContender = {
  id: "floor",
  label: "floor: await Promise.resolve()",
  reference: true,
  note: "no pool: each cycle is one `await Promise.resolve(connection)`; what the measuring loop itself allocates.",
  async run({ concurrency }) {
    const connection = openStub();
    return sample(
      concurrency,
      await allocatedPerCycle(concurrency, (cycles) => floorLoop(connection, cycles)),
    );
  },
};

/** Target: ≤ 500 B of garbage per acquire+release (pg-pool ~1.5 KB). */
export const garbageSuite: Suite<GarbageParams> = {
  name: "garbage",
  title: "Garbage per acquire + release (stub connection)",
  description: `
How many bytes of heap one borrow allocates (and leaves for the collector), with the core suite's
stub connection and pools. Node 20's \`v8.getHeapStatistics()\` has no allocation counter, so the
contenders' processes run with a ${SEMI_SPACE_MB} MB young generation
(\`--min-semi-space-size=${SEMI_SPACE_MB} --max-semi-space-size=${SEMI_SPACE_MB}\`): after a full
collection, ${CYCLES.toLocaleString("en-US")} acquire+release cycles (split over the loops) allocate
far less than that, no collection runs, and the growth of \`process.memoryUsage().heapUsed\` over the
window is exactly what it allocated, garbage included. \`v8.GCProfiler\` checks that no collection
ran inside the window (one that did is measured again). Each sample builds a fresh pool, opens its
${POOL_SIZE} stub connections and runs ${WARM_CYCLES.toLocaleString("en-US")} cycles before the window,
so nothing is compiled inside it. **B/cycle** includes what the loop's own \`await\` allocates (the
floor contender is that loop alone); **less the loop's await** subtracts the bare loop's bytes,
measured right after in the same process at the same concurrency: the pool's own share. The target
is on B/cycle, the whole cost of a borrow to the caller. The figure is a count of bytes, so it hardly depends on the machine's load.`,
  cases: [
    { id: "c1", label: "concurrency 1", params: { concurrency: 1 } },
    { id: "c64", label: "concurrency 64", params: { concurrency: 64 } },
  ],
  contenders: [lifeguard, pgPool, tarn, genericPoolContender, floor],
  metrics: [
    { key: "bytesPerCycle", label: "B/cycle", better: "lower", format: "fixed", unit: " B" },
    {
      key: "netBytesPerCycle",
      label: "B/cycle less the loop's await",
      better: "lower",
      format: "fixed",
      unit: " B",
    },
  ],
  subject: "lifeguard",
  targets: [{ max: 500, label: "≤ 500 B" }],
  chart: { title: "Heap allocated per acquire+release (pool of 10, stub connection)" },
  timing: { full: { rounds: 7 }, quick: { rounds: 3 } },
  execArgv: [`--min-semi-space-size=${SEMI_SPACE_MB}`, `--max-semi-space-size=${SEMI_SPACE_MB}`],
};
