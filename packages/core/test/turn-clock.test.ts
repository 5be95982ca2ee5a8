import { describe, expect, it } from "vitest";
import { SHARED_READS, turnClock } from "../src/clock.js";

/** Spins until the system clock has moved past `t` (so a fresh reading differs from a stale one). */
function spinPast(t: number): void {
  while (performance.now() <= t) {
    // spin: the point is that real time passes inside one synchronous job
  }
}

describe("the shared per-turn clock reading", () => {
  it("shares one reading for at most SHARED_READS reads, then reads the clock again", async () => {
    await new Promise<void>((resolve) => setImmediate(resolve)); // start from a fresh turn
    const first = turnClock.now();
    spinPast(first);
    const shared = Array.from({ length: SHARED_READS }, () => turnClock.now());
    expect(new Set(shared)).toEqual(new Set([first]));
    expect(turnClock.now()).toBeGreaterThan(first);
  });

  it("never carries a reading into the next event-loop turn", async () => {
    await new Promise<void>((resolve) => setImmediate(resolve));
    const before = turnClock.now();
    spinPast(before);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(turnClock.now()).toBeGreaterThan(before);
  });
});
