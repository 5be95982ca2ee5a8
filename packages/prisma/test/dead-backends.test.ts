import { ManualClock } from "@lifeguard/core";
import { Pool } from "@lifeguard/pg";
import { type FaultProxy, startFaultProxy } from "@lifeguard/test-fixtures";
import type { PrismaTestClient } from "@lifeguard/test-fixtures/prisma";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { describe, expect, it, vi } from "vitest";
import { PrismaLifeguard } from "../src/index.js";
import { backendPid, gate, terminate, usePrisma } from "./helpers.js";

const h = usePrisma();

/** Opens `count` connections at once (transactions that wait for each other) and returns their pids. */
async function openBackends(prisma: PrismaTestClient, count: number): Promise<number[]> {
  const all = gate();
  let inside = 0;
  const pids = await Promise.all(
    Array.from({ length: count }, () =>
      prisma.$transaction(async (tx) => {
        const pid = await backendPid(tx);
        if (++inside === count) all.open();
        await all.promise;
        return pid;
      }),
    ),
  );
  expect(new Set(pids).size).toBe(count);
  return pids;
}

/** Runs `n` requests one after another (model queries, raw SQL and transactions); returns what failed. */
async function workload(prisma: PrismaTestClient, n: number) {
  const failures: unknown[] = [];
  const pids = new Set<number>();
  for (let i = 0; i < n; i++) {
    try {
      if (i % 3 === 0) await prisma.user.count();
      else if (i % 3 === 1) pids.add(await backendPid(prisma));
      else pids.add(await prisma.$transaction((tx) => backendPid(tx)));
    } catch (error) {
      failures.push(error);
    }
  }
  return { failures, pids };
}

describe("backends killed while idle", () => {
  it("never surface: no request fails, and none runs on a dead backend", async () => {
    const adapter = new PrismaLifeguard({ connectionString: h.db.url, max: 4 });
    const prisma = h.client(adapter);
    const dead = await openBackends(prisma, 4);
    await terminate(h.db.url, dead);

    const { failures, pids } = await workload(prisma, 30);
    expect(failures).toEqual([]);
    for (const pid of dead) expect(pids.has(pid)).toBe(false);
    const stats = adapter.pool.stats();
    expect(stats.counters.destroys.broken + stats.counters.destroys["ping-failed"]).toBe(4);
    expect(stats.connector["idleErrors"]).toBe(4); // counted, not thrown at the application
  });
});

describe("a backend that died behind a network partition (the client was not told)", () => {
  /** The pool's only backend dies while the network to it is down; the server's goodbye is held. */
  async function killBehindPartition(prisma: PrismaTestClient, proxy: FaultProxy) {
    const pid = await backendPid(prisma);
    await proxy.blackhole();
    await terminate(h.db.url, [pid]);
    return pid;
  }

  it("Lifeguard: pre-ping finds it dead and the request runs on a new backend", async () => {
    const proxy = await startFaultProxy(h.db.url);
    h.defer(() => proxy.close());
    const clock = new ManualClock();
    const pool = new Pool({
      connectionString: proxy.url(h.db.url),
      max: 1,
      prePing: { bypassWindowMillis: 0, timeoutMillis: 1000 },
      clock,
    });
    h.defer(() => pool.end());
    const prisma = h.client(new PrismaLifeguard(pool));
    const dead = await killBehindPartition(prisma, proxy);
    await clock.advance(1); // past the (zero) bypass window: the next borrow pings

    const request = backendPid(prisma);
    await vi.waitFor(() => expect(pool.stats().validating).toBe(1)); // the ping gets no answer
    await clock.advance(1000); // ... until its timeout: the connection is closed, a new one opened
    await vi.waitFor(() => expect(pool.stats().creating).toBe(1));
    await proxy.pass(); // the network heals
    const pid = await request;
    expect(pid).not.toBe(dead);
    expect(pool.stats().counters.prePings.timeout).toBe(1);
  });

  it("PrismaPg (pg.Pool): the request is sent on the dead connection and fails", async () => {
    const proxy = await startFaultProxy(h.db.url);
    h.defer(() => proxy.close());
    const pool = new pg.Pool({ connectionString: proxy.url(h.db.url), max: 1 });
    h.defer(() => pool.end());
    const prisma = h.client(new PrismaPg(pool));
    await killBehindPartition(prisma, proxy);

    const request = backendPid(prisma).then(
      () => "served",
      (error: unknown) => error,
    );
    // the request has the (only) connection: its query is on the wire, held with the goodbye
    await vi.waitFor(() => expect([pool.totalCount, pool.idleCount]).toEqual([1, 0]));
    await proxy.pass(); // the held goodbye arrives in answer to the request
    expect(await request).toMatchObject({
      message: expect.stringMatching(/terminating connection due to administrator command/),
    });
  });
});
