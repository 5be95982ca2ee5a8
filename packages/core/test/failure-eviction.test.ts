import { describe, expect, it } from "vitest";
import { setup } from "./support/harness.js";
import { flush, StubConnectionError } from "./support/stub-connector.js";

describe("failure eviction", () => {
  it("a connection error destroys that connection and soft-evicts every connection opened before it", async () => {
    // all three open in the same millisecond: creation order still decides who is older
    const { pool, connector } = setup({ max: 4 });
    const [first, second, third, fourth] = await Promise.all([
      pool.acquire(),
      pool.acquire(),
      pool.acquire(),
      pool.acquire(),
    ]);
    if (!first || !second || !third || !fourth) throw new Error("acquire failed");
    expect(new Set([first, second, third].map((l) => l.entry.createdAt)).size).toBe(1);
    first.release(); // idle: retired at once when evicted

    third.release({ error: new StubConnectionError("server closed the connection unexpectedly") });
    await flush();
    expect(third.connection.destroyed).toBe(true);
    expect(first.connection.destroyed).toBe(true);
    expect(second.connection.destroyed).toBe(false); // busy: retired when it comes back
    expect(pool.stats().counters.destroys).toMatchObject({ error: 1, evicted: 1 });

    second.release();
    fourth.release();
    await flush();
    expect(second.connection.destroyed).toBe(true);
    expect(fourth.connection.destroyed).toBe(false); // opened after the failed one: kept
    expect(pool.stats()).toMatchObject({ total: 1, idle: 1 });
    expect(pool.stats().counters.destroys).toMatchObject({ error: 1, evicted: 2 });
    expect(connector.live.map((c) => c.id)).toEqual([fourth.connection.id]);
  });

  it("a statement error keeps the connection and evicts nothing", async () => {
    const { pool } = setup();
    const a = await pool.acquire();
    const b = await pool.acquire();
    a.release();
    b.release({ error: new Error('relation "missing" does not exist') });
    await flush();
    expect(a.connection.destroyed).toBe(false);
    expect(b.connection.destroyed).toBe(false);
    expect(pool.stats()).toMatchObject({ total: 2, idle: 2 });
    const next = await pool.acquire();
    expect(next.connection).toBe(b.connection);
  });

  it("replacements keep min warm after a failure eviction", async () => {
    const { pool, connector } = setup({ min: 2, max: 4 });
    await pool.warmup();
    const lease = await pool.acquire();
    const other = connector.opened.find((c) => c !== lease.connection);
    lease.release({ error: new StubConnectionError("connection reset by peer") });
    await flush();
    expect(lease.connection.destroyed).toBe(true);
    expect(other?.destroyed).toBe(true);
    expect(pool.stats()).toMatchObject({ total: 2, idle: 2 });
    expect(connector.live.every((c) => c.id > 2)).toBe(true);
  });
});
