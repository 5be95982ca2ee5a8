import { describe, expect, it } from "vitest";
import { advise } from "../src/index.js";

describe("advise", () => {
  it("sizes from Little's law with a burst margin", () => {
    // 200 leases/s × 25 ms = 5 in use on average; 5 + 3√5 = 11.7 → 12
    const advice = advise({ rate: 200, holdMillis: 25 });
    expect(advice.perInstance.inUse).toBe(5);
    expect(advice.perInstance.burst).toBe(12);
    expect(advice.max).toBe(12);
    const text = advice.explanation.join("\n");
    expect(text).toContain("L = λ × W = 200/s × 0.025 s = 5.");
    expect(text).toContain("L + 3√L = 11.708 → 12");
  });

  it("splits the load across instances", () => {
    const advice = advise({ rate: 800, holdMillis: 25, instances: 4 });
    expect(advice.perInstance.rate).toBe(200);
    expect(advice.max).toBe(12);
  });

  it("caps the fleet at (cores × 2) + spindles and says callers will queue", () => {
    const advice = advise({ rate: 2000, holdMillis: 50, instances: 4, cores: 8, spindles: 1 });
    expect(advice.serverLimit).toBe(17);
    expect(advice.max).toBe(4); // ⌊17 / 4⌋
    expect(advice.explanation.join("\n")).toMatch(/callers will queue/);
  });

  it("never recommends fewer than one connection", () => {
    expect(advise({ rate: 0.1, holdMillis: 1 }).max).toBe(1);
  });
});
