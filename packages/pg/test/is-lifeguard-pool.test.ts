/**
 * One test for "is this a Lifeguard pool", shared by the adapters: a `Symbol.for` brand on the
 * Pool's prototype, so a copy of @lifeguard/pg loaded twice (ESM and CommonJS) still recognises
 * the other's pools (the packed smoke test checks that across real builds), while a plain pg.Pool
 * or a look-alike with the same methods is refused.
 */
import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { isLifeguardPool, Pool } from "../src/index.js";

const db = useTestDatabase();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

describe("isLifeguardPool", () => {
  it("is true for a Lifeguard Pool and a subclass of it, false for a plain pg.Pool", async () => {
    class TenantPool extends Pool {}
    const lifeguard = new Pool({ connectionString: db.url });
    const sub = new TenantPool({ connectionString: db.url });
    const plain = new pg.Pool({ connectionString: db.url });
    cleanups.push(
      () => lifeguard.end(),
      () => sub.end(),
      () => plain.end(),
    );
    expect(isLifeguardPool(lifeguard)).toBe(true);
    expect(isLifeguardPool(sub)).toBe(true);
    expect(isLifeguardPool(plain)).toBe(false);
    // both are pg.Pools: the brand, not the class, tells them apart
    expect(lifeguard).toBeInstanceOf(pg.Pool);
  });

  it("is false for a look-alike with the same methods, and for non-objects", async () => {
    const real = new Pool({ connectionString: db.url });
    cleanups.push(() => real.end());
    const lookAlike = {
      connect: () => undefined,
      query: () => undefined,
      end: () => undefined,
      stats: () => real.stats(),
      warmup: () => undefined,
      lifeguard: real.lifeguard,
    };
    expect(isLifeguardPool(lookAlike)).toBe(false);
    for (const value of [undefined, null, 0, "pool", () => undefined]) {
      expect(isLifeguardPool(value)).toBe(false);
    }
  });
});
