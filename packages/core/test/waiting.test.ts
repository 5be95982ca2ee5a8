import { describe, expect, it } from "vitest";
import {
  AcquireAbortedError,
  AcquireTimeoutError,
  InvalidOptionError,
  PoolQueueFullError,
} from "../src/index.js";
import { setup, track } from "./support/harness.js";
import { flush, StubConnector } from "./support/stub-connector.js";

describe("order", () => {
  it("serves waiters first in, first out", async () => {
    const { pool } = setup({ max: 1 });
    const held = await pool.acquire();
    const waiters = [track(pool.acquire()), track(pool.acquire()), track(pool.acquire())];
    const servedOrder: number[] = [];
    let current = held;
    for (let round = 0; round < 3; round++) {
      current.release();
      await flush();
      const served = waiters.findIndex((w) => w.status === "fulfilled" && !w.value?.released);
      servedOrder.push(served);
      const next = waiters[served]?.value;
      if (next === undefined) throw new Error("nobody served");
      current = next;
    }
    expect(servedOrder).toEqual([0, 1, 2]);
  });

  it("reuses idle connections last in, first out", async () => {
    const { pool } = setup();
    const [a, b, c] = [await pool.acquire(), await pool.acquire(), await pool.acquire()];
    a.release();
    c.release();
    b.release();
    expect((await pool.acquire()).connection).toBe(b.connection);
    expect((await pool.acquire()).connection).toBe(c.connection);
    expect((await pool.acquire()).connection).toBe(a.connection);
  });

  it("hands a returned connection to the oldest waiter ahead of a newer fast-path caller", async () => {
    const { pool } = setup({ max: 1 });
    const held = await pool.acquire();
    const first = track(pool.acquire());
    held.release();
    const second = track(pool.acquire());
    await flush();
    expect(first.status).toBe("fulfilled");
    expect(second.status).toBe("pending");
  });
});

describe("maxWaiting", () => {
  it("rejects callers beyond maxWaiting at once with PoolQueueFullError", async () => {
    const { pool, clock } = setup({ max: 1, maxWaiting: 2 });
    const held = await pool.acquire();
    const queued = [track(pool.acquire()), track(pool.acquire())];
    const excess = track(pool.acquire());
    await flush();
    expect(excess.status).toBe("rejected");
    expect(excess.error).toBeInstanceOf(PoolQueueFullError);
    expect(excess.error).toMatchObject({ code: "LIFEGUARD_QUEUE_FULL" });
    expect(clock.now()).toBe(1_000_000); // at once: no time passed
    expect(pool.stats()).toMatchObject({ pending: 2 });
    expect(pool.stats().counters.queueFull).toBe(1);
    expect(queued.map((q) => q.status)).toEqual(["pending", "pending"]);
    held.release();
    await flush();
    // one left the queue: there is room again
    const later = track(pool.acquire());
    await flush();
    expect(later.status).toBe("pending");
  });

  it("maxWaiting 0 never queues behind a busy pool but still opens connections up to max", async () => {
    const connector = new StubConnector();
    connector.mode = "manual";
    const { pool } = setup({ connector, max: 2, maxWaiting: 0 });
    // the pool can still grow: these callers wait only for their own connect
    const first = track(pool.acquire());
    const second = track(pool.acquire());
    const third = track(pool.acquire());
    await flush();
    expect(third.error).toBeInstanceOf(PoolQueueFullError);
    expect(connector.pendingConnects).toHaveLength(2);
    connector.finishConnect();
    connector.finishConnect();
    await flush();
    expect([first.status, second.status]).toEqual(["fulfilled", "fulfilled"]);
    await expect(pool.acquire()).rejects.toBeInstanceOf(PoolQueueFullError);
    first.value?.release();
    expect((await pool.acquire()).connection).toBe(first.value?.connection);
  });
});

describe("deadlines", () => {
  it("rejects with AcquireTimeoutError carrying how long it waited and the pool's state", async () => {
    const { pool, clock } = setup({ max: 2, acquireTimeoutMillis: 3000, name: "orders" });
    const a = await pool.acquire();
    const b = await pool.acquire();
    const waiter = track(pool.acquire());
    const other = track(pool.acquire());
    await clock.advance(2999);
    expect(waiter.status).toBe("pending");
    await clock.advance(1);
    expect(waiter.status).toBe("rejected");
    const error = waiter.error as AcquireTimeoutError;
    expect(error).toBeInstanceOf(AcquireTimeoutError);
    expect(error.code).toBe("LIFEGUARD_ACQUIRE_TIMEOUT");
    expect(error.waitedMillis).toBe(3000);
    expect(error.stats).toMatchObject({ total: 2, idle: 0, used: 2, max: 2, name: "orders" });
    expect(error.message).toContain("3000 ms");
    expect(error.message).toContain('"orders"');
    // each snapshot is taken while its caller still waits: the first to time out sees both
    // waiters, the second sees itself (equal deadlines fire in either order)
    expect(error.message).toMatch(/total=2, idle=0, used=2, pending=[12], max=2/);
    const pendings = [error, other.error as AcquireTimeoutError].map((e) => e.stats.pending);
    expect(pendings.sort()).toEqual([1, 2]);
    expect(error.cause).toBeUndefined(); // connects were fine: the pool is just busy
    expect(other.status).toBe("rejected");
    expect(pool.stats()).toMatchObject({ pending: 0 });
    expect(pool.stats().counters.timeouts).toBe(2);
    a.release();
    b.release();
  });

  it("carries the last connect error as cause when connects were failing", async () => {
    const { pool, clock, connector } = setup({ max: 2, acquireTimeoutMillis: 1000 });
    const held = await pool.acquire();
    const refused = new Error("connect ECONNREFUSED 10.1.2.3:5432");
    connector.mode = "fail";
    connector.failure = refused;
    const waiter = track(pool.acquire());
    await clock.advance(1000);
    expect(waiter.status).toBe("rejected");
    const error = waiter.error as AcquireTimeoutError;
    expect(error).toBeInstanceOf(AcquireTimeoutError);
    expect(error.cause).toBe(refused);
    expect(error.message).toContain("ECONNREFUSED");
    held.release();
  });

  it("honours a per-call timeoutMillis", async () => {
    const { pool, clock } = setup({ max: 1, acquireTimeoutMillis: 10_000 });
    const held = await pool.acquire();
    const quick = track(pool.acquire({ timeoutMillis: 50 }));
    const slow = track(pool.acquire());
    await clock.advance(49);
    expect(quick.status).toBe("pending");
    await clock.advance(1);
    expect(quick.status).toBe("rejected");
    expect((quick.error as AcquireTimeoutError).waitedMillis).toBe(50);
    expect(slow.status).toBe("pending");
    held.release();
    await flush();
    expect(slow.status).toBe("fulfilled");
  });

  it("rejects an invalid per-call timeoutMillis", async () => {
    const { pool } = setup();
    await expect(pool.acquire({ timeoutMillis: 0 })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(pool.acquire({ timeoutMillis: Number.NaN })).rejects.toMatchObject({
      option: "timeoutMillis",
    });
  });
});

describe("AbortSignal", () => {
  it("rejects at once when the signal is already aborted", async () => {
    const { pool, connector } = setup({ min: 1 });
    await pool.warmup();
    const reason = new Error("request cancelled");
    const acquiring = track(pool.acquire({ signal: AbortSignal.abort(reason) }));
    await flush();
    expect(acquiring.status).toBe("rejected");
    expect(acquiring.error).toBeInstanceOf(AcquireAbortedError);
    expect(acquiring.error).toMatchObject({ code: "LIFEGUARD_ACQUIRE_ABORTED", cause: reason });
    expect(pool.stats()).toMatchObject({ idle: 1, leased: 0 }); // even with one idle
    expect(pool.stats().counters.aborts).toBe(1);
    expect(connector.connectAttempts).toBe(1);
  });

  it("rejects when the signal aborts while waiting, and the connection later goes to the pool", async () => {
    const { pool } = setup({ max: 1 });
    const held = await pool.acquire();
    const controller = new AbortController();
    const acquiring = track(pool.acquire({ signal: controller.signal }));
    await flush();
    expect(pool.stats().pending).toBe(1);
    controller.abort();
    await flush();
    expect(acquiring.status).toBe("rejected");
    expect(acquiring.error).toBeInstanceOf(AcquireAbortedError);
    expect(pool.stats().pending).toBe(0);
    held.release();
    expect(pool.stats()).toMatchObject({ idle: 1, leased: 0 });
  });

  it("ignores an abort after the connection was handed out", async () => {
    const { pool } = setup();
    const controller = new AbortController();
    const lease = await pool.acquire({ signal: controller.signal });
    controller.abort();
    await flush();
    expect(lease.released).toBe(false);
    expect(pool.stats().counters.aborts).toBe(0);
  });
});

describe("a connection that arrives for a waiter that left goes back to the pool", () => {
  it("a connect finishing after the waiter timed out", async () => {
    const connector = new StubConnector();
    connector.mode = "manual";
    const { pool, clock } = setup({ connector });
    const waiter = track(pool.acquire({ timeoutMillis: 50 }));
    await clock.advance(50);
    expect(waiter.error).toBeInstanceOf(AcquireTimeoutError);
    const late = connector.finishConnect();
    await flush();
    expect(pool.stats()).toMatchObject({ total: 1, idle: 1, pending: 0 });
    expect((await pool.acquire()).connection).toBe(late);
  });

  it("a connect finishing after the waiter aborted", async () => {
    const connector = new StubConnector();
    connector.mode = "manual";
    const { pool } = setup({ connector });
    const controller = new AbortController();
    const waiter = track(pool.acquire({ signal: controller.signal }));
    controller.abort();
    await flush();
    expect(waiter.error).toBeInstanceOf(AcquireAbortedError);
    connector.finishConnect();
    await flush();
    expect(pool.stats()).toMatchObject({ total: 1, idle: 1 });
  });

  it("a ping finishing after the waiter gave up", async () => {
    const { pool, clock, connector } = setup({ prePing: { timeoutMillis: 5000 } });
    (await pool.acquire()).release();
    await clock.advance(1000);
    const idle = connector.opened[0];
    if (idle === undefined) throw new Error("no connection");
    idle.ping = "manual";
    const waiter = track(pool.acquire({ timeoutMillis: 100 }));
    await clock.advance(100);
    expect(waiter.error).toBeInstanceOf(AcquireTimeoutError);
    expect(pool.stats()).toMatchObject({ validating: 1, pending: 0 });
    idle.ping = "ok";
    connector.finishPing("ok");
    await flush();
    expect(pool.stats()).toMatchObject({ total: 1, idle: 1, validating: 0 });
    const next = await pool.acquire();
    expect(next.connection).toBe(idle);
    expect(idle.pings).toBe(1); // just proven good: no second round trip
  });

  it("a ping finishing after the waiter gave up goes to the next waiter", async () => {
    const { pool, clock, connector } = setup({ max: 1, prePing: { timeoutMillis: 5000 } });
    (await pool.acquire()).release();
    await clock.advance(1000);
    const idle = connector.opened[0];
    if (idle === undefined) throw new Error("no connection");
    idle.ping = "manual";
    const controller = new AbortController();
    const first = track(pool.acquire({ signal: controller.signal }));
    await flush();
    const second = track(pool.acquire());
    controller.abort();
    connector.finishPing("ok");
    await flush();
    expect(first.status).toBe("rejected");
    expect(second.status).toBe("fulfilled");
    expect(second.value?.connection).toBe(idle);
  });
});

// A caller that waits is given a record the pool reuses once that caller is served (so waiting
// allocates only its promise). What a served caller left behind must never reach the next one.
describe("a served waiter leaves nothing behind for the next caller", () => {
  it("ignores the served caller's signal aborting after the next caller took its place", async () => {
    const { pool } = setup({ max: 1 });
    const held = await pool.acquire();
    const controller = new AbortController();
    const first = track(pool.acquire({ signal: controller.signal }));
    held.release();
    await flush();
    expect(first.status).toBe("fulfilled");
    const second = track(pool.acquire());
    await flush();
    controller.abort();
    await flush();
    expect(second.status).toBe("pending");
    expect(pool.stats().pending).toBe(1);
    first.value?.release();
    await flush();
    expect(second.status).toBe("fulfilled");
    expect(pool.stats().counters.aborts).toBe(0);
  });

  it("times the next caller out at its own deadline, not at the served caller's", async () => {
    const { pool, clock } = setup({ max: 1, acquireTimeoutMillis: 1000 });
    const held = await pool.acquire();
    const first = track(pool.acquire({ timeoutMillis: 100 }));
    await clock.advance(10);
    held.release();
    await flush();
    expect(first.status).toBe("fulfilled");
    const second = track(pool.acquire());
    await clock.advance(200);
    expect(second.status).toBe("pending");
    await clock.advance(811);
    expect(second.status).toBe("rejected");
    expect(second.error).toBeInstanceOf(AcquireTimeoutError);
    expect((second.error as AcquireTimeoutError).waitedMillis).toBe(1000);
    first.value?.release();
  });

  it("serves callers in order after waiters that timed out in the queue", async () => {
    const { pool, clock } = setup({ max: 1 });
    let held = await pool.acquire();
    const expired = [
      track(pool.acquire({ timeoutMillis: 50 })),
      track(pool.acquire({ timeoutMillis: 50 })),
    ];
    await clock.advance(60);
    expect(expired.map((w) => w.status)).toEqual(["rejected", "rejected"]);
    const order: number[] = [];
    const later = [0, 1, 2].map((i) =>
      pool.acquire().then((lease) => {
        order.push(i);
        return lease;
      }),
    );
    for (const next of later) {
      held.release();
      held = await next;
    }
    held.release();
    expect(order).toEqual([0, 1, 2]);
    expect(pool.stats()).toMatchObject({ pending: 0, leased: 0, idle: 1 });
  });
});
