import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { AcquireTimeoutError } from "../src/index.js";
import { setup } from "./support/harness.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

// found by the reliability suite: waiters that gave up stayed in the queue's ring buffer until the
// queue emptied completely, so a pool whose queue never empties (every connection held, callers
// arriving steadily and timing out) kept every caller it had ever turned away, without bound
describe("waiters that gave up", () => {
  it("are dropped by the pool while others still wait (steady stream, queue never empty)", async () => {
    const { pool, clock } = setup({ max: 1, acquireTimeoutMillis: 1000 });
    await pool.acquire(); // held for the whole test: nobody is ever served
    const gaveUp: WeakRef<object>[] = [];
    let timeouts = 0;
    // one caller every 10 ms, each giving up after 1 s: about 100 always waiting
    let maxPending = 0;
    for (let i = 0; i < 3000; i++) {
      const waiting = pool.acquire();
      gaveUp.push(new WeakRef(waiting));
      waiting.catch((error: unknown) => {
        if (error instanceof AcquireTimeoutError) timeouts++;
      });
      await clock.advance(10);
      maxPending = Math.max(maxPending, pool.stats().pending);
    }
    expect(pool.stats().pending).toBeGreaterThan(90);
    expect(timeouts).toBeGreaterThan(2850);
    gc();
    // the callers that timed out are garbage, but for a few the queue has not dropped yet: how
    // many depends on how many wait at once (at most 4x), not on how many ever came (2,900)
    const retained = gaveUp.slice(0, timeouts).filter((ref) => ref.deref() !== undefined).length;
    expect(retained).toBeLessThanOrEqual(4 * maxPending);
  });
});
