import type { Suite } from "../../framework/types.js";
import type { CoreParams } from "./contenders.js";
import { floor, genericPoolContender, lifeguard, POOL_SIZE, pgPool, tarn } from "./contenders.js";

/** Pools of the multi-pool case: more than the 7 after which V8 used to change Pool's layout. */
const LIVE_POOLS = 12;

/** The pool's own cost per acquire+release, with nothing else in the way (docs/benchmarks.md). */
export const coreSuite: Suite<CoreParams> = {
  name: "core",
  title: "Core overhead: acquire + release with a stub connection",
  description: `
What one borrow costs in the pool itself. Every contender is a pool of ${POOL_SIZE} over the same stub
connection (no I/O: opening resolves at once, Lifeguard's ping resolves at once and its release is a
synchronous \`'keep'\`). Concurrency _N_ means _N_ async loops, each doing \`acquire → release\`
back to back for the round's duration; at concurrency 64, 54 loops wait at any time, so the
waiter queue and hand-over path are measured too. Each sample uses a fresh pool whose ${POOL_SIZE}
connections are opened before the clock starts. **cycles/s** is completed acquire+release pairs per
second over all loops; **ns/cycle** is its inverse (wall time per cycle, not latency). Lifeguard runs
with its features on (see below); the other pools run with their defaults. A full garbage collection
runs before every sample. Nothing warms the contenders up by building pools first: every sample
builds its own, as a process with a pool per tenant or per test file does, and the last case keeps
${LIVE_POOLS} pools open at once, each loop using them in turn.`,
  cases: [
    { id: "c1", label: "concurrency 1", params: { concurrency: 1 } },
    { id: "c64", label: "concurrency 64", params: { concurrency: 64 } },
    {
      id: "c64-12pools",
      label: `concurrency 64, ${LIVE_POOLS} live pools round-robin`,
      params: { concurrency: 64, pools: LIVE_POOLS },
    },
  ],
  contenders: [lifeguard, pgPool, tarn, genericPoolContender, floor],
  metrics: [
    { key: "cyclesPerSecond", label: "cycles/s", better: "higher", format: "si" },
    { key: "nsPerCycle", label: "ns/cycle", better: "lower", format: "fixed", unit: " ns" },
  ],
  subject: "lifeguard",
  targets: [{ versus: "pg-pool", min: 3, label: "≥ 3×" }],
  chart: {
    title: "Core overhead: acquire+release cycles per second (pool of 10, stub connection)",
  },
};
