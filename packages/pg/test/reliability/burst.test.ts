/**
 * docs/reliability.md, "Burst with `maxWaiting`": a burst of 100,000 acquires, all in one tick, on a pool of 10 with `maxWaiting`.
 * The excess is rejected at once (inside the call, before any I/O), the admitted callers are
 * served first in, first out, and the pool holds memory for the admitted ones only.
 */
import { PoolQueueFullError } from "@lifeguard/core";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { Pool } from "../../src/index.js";
import { heapAfterGc, report, turns } from "./support.js";

const db = useTestDatabase();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const BURST = 100_000;
const MAX = 10;
const MAX_WAITING = 1000;
const MB = 1024 * 1024;
const mb = (bytes: number) => Math.round((bytes / MB) * 10) / 10;

/** A gate the first borrowers wait at, so the queue stays full while it is measured. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

describe(`a burst of ${BURST.toLocaleString("en")} acquires on a pool of ${MAX}`, () => {
  it(`Lifeguard, maxWaiting ${MAX_WAITING}: the excess is rejected at once, the admitted are served FIFO, memory stays bounded`, async () => {
    const pool = new Pool({
      connectionString: db.url,
      max: MAX,
      min: MAX,
      maxWaiting: MAX_WAITING,
    });
    cleanups.push(() => pool.end());
    await pool.warmup();
    expect(pool.idleCount).toBe(MAX);

    const held = gate();
    const served: number[] = [];
    let rejected = 0;
    let otherErrors = 0;
    const admitted: Promise<void>[] = [];
    const heapBefore = heapAfterGc();
    const started = performance.now();
    for (let i = 0; i < BURST; i++) {
      const acquiring = pool.connect().then(
        async (client) => {
          served.push(i);
          if (i < MAX) await held.wait;
          // a statement clean on every major: on PostgreSQL < 18 'auto' resets after anything that
          // may run user code (docs/pg.md), and a borrower whose connection still finishes its
          // predecessor's reset resolves after it, which is not the queue's order being broken
          await client.query("select 1");
          client.release();
        },
        (error: unknown) => {
          if (error instanceof PoolQueueFullError) rejected++;
          else otherErrors++;
        },
      );
      // the test keeps the callers that got in; the others are only counted, as a server sheds them
      if (i < MAX + MAX_WAITING) admitted.push(acquiring);
    }
    const burstMillis = performance.now() - started;

    // decided inside each call, before any I/O or timer: the pool's own counters already say so
    const stats = pool.stats();
    expect(stats.counters.queueFull).toBe(BURST - MAX - MAX_WAITING);
    expect(stats.pending).toBe(MAX_WAITING);
    expect(stats.leased).toBe(MAX);
    await turns(2); // the rejections reach their callers; nobody is served while the gate is shut
    expect(rejected).toBe(BURST - MAX - MAX_WAITING);
    expect(served).toHaveLength(MAX);
    // what the pool holds now is the admitted waiters: nothing of the 98,990 it turned away
    const retained = heapAfterGc() - heapBefore;
    expect(retained).toBeLessThan(20 * MB);

    held.open();
    await Promise.all(admitted);
    expect(otherErrors).toBe(0);
    // first in, first out: exactly the first MAX + MAX_WAITING callers, in the order they called
    expect(served).toEqual(Array.from({ length: MAX + MAX_WAITING }, (_, i) => i));
    expect(pool.totalCount).toBe(MAX);
    report("burst-lifeguard", {
      burst: BURST,
      max: MAX,
      maxWaiting: MAX_WAITING,
      rejectedAtOnce: stats.counters.queueFull,
      served: served.length,
      burstCallMillis: Math.round(burstMillis),
      drainMillis: Math.round(performance.now() - started),
      heapWhileQueuedMB: mb(retained),
      heapAfterMB: mb(heapAfterGc() - heapBefore),
    });
  });

  it("plain pg.Pool: no bound: all 100,000 queue, and memory grows with them", async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: MAX });
    pool.on("error", () => undefined);
    const warm = await Promise.all(Array.from({ length: MAX }, () => pool.connect()));
    for (const c of warm) c.release();

    const held = gate();
    let served = 0;
    const heapBefore = heapAfterGc();
    for (let i = 0; i < BURST; i++) {
      // as for Lifeguard, the test keeps no reference to the callers: what stays is the pool's
      void pool.connect().then(async (client) => {
        served++;
        await held.wait;
        client.release();
      });
    }
    expect(pool.waitingCount).toBe(BURST); // nothing is turned away
    await turns(2);
    expect(served).toBe(MAX);
    expect(pool.waitingCount).toBe(BURST - MAX);
    const retained = heapAfterGc() - heapBefore;

    // pg.Pool's end() never settles the waiters it still has: they are left pending for good
    const ended = pool.end();
    held.open();
    await ended;
    await turns(2);
    expect(served).toBe(MAX);
    report("burst-pg", {
      burst: BURST,
      queued: BURST - MAX,
      heapWhileQueuedMB: mb(retained),
      leftPendingByEnd: BURST - served,
    });
  });
});
