import { describe, expect, it } from "vitest";
import { formatFailover, runFailoverDemo } from "../src/commands/demo/failover.js";

describe("lifeguard demo --failover", () => {
  it("Lifeguard's cluster writes to the promoted standby; pg.Pool keeps writing to the dead primary", async () => {
    const lines: string[] = [];
    const result = await runFailoverDemo({ quick: true, log: (line) => lines.push(line) });
    const [lifeguard, plain] = result.pools;
    expect(lifeguard?.pool).toMatch(/^Lifeguard Cluster/);
    expect(plain?.pool).toMatch(/^pg\.Pool/);
    expect(result.promotedAtMillis).toBeGreaterThanOrEqual(result.primaryStoppedAtMillis);

    // Lifeguard: writes resume on the new primary, none is ever sent to a read-only host
    expect(lifeguard?.writesOkAfterPromotion).toBeGreaterThan(0);
    expect(lifeguard?.firstWriteAfterPromotionMillis).not.toBeNull();
    expect(lifeguard?.writesToReadOnlyHost).toBe(0);
    expect(result.lifeguardRecovered).toBe(true);
    // pg.Pool names one host: after the crash every write fails, for good
    expect(plain?.writesOkAfterPromotion).toBe(0);
    expect(plain?.firstWriteAfterPromotionMillis).toBeNull();
    expect(plain?.writesFailed).toBeGreaterThan(0);
    // both read throughout: the replica stays up (and becomes the primary)
    expect(lifeguard?.readsOk).toBeGreaterThan(0);
    expect(plain?.readsOk).toBeGreaterThan(0);

    const text = formatFailover(result);
    expect(text).toMatch(/Lifeguard Cluster \(one multi-host URL\)\s+\d+\s+\d+\s+0\s+\d+ ms/);
    expect(text).toMatch(/pg\.Pool \(primary URL \+ replica URL\)\s+\d+\s+\d+\s+\d+\s+never/);
    expect(text).toContain("Lifeguard found the new primary by itself");
    expect(lines.join("\n")).toContain("The primary crashes (immediate shutdown)");
  }, 120_000);
});
