import diagnosticsChannel from "node:diagnostics_channel";
import {
  type ConnectionEvent,
  channelNames,
  listPools,
  ManualClock,
  type PoolEvent,
} from "@lifeguard/core";
import { Pool } from "@lifeguard/pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PrismaLifeguard } from "../src/index.js";
import { usePrisma } from "./helpers.js";

const h = usePrisma();

/** Records the events of one pool name on Lifeguard's diagnostics channels, by channel name. */
function recordEvents(poolName: string, names: readonly string[]) {
  const seen = new Map<string, number>(names.map((name) => [name, 0]));
  const listeners = names.map((name) => {
    const listener = (message: unknown) => {
      if ((message as PoolEvent).pool.name === poolName) seen.set(name, (seen.get(name) ?? 0) + 1);
    };
    diagnosticsChannel.subscribe(name, listener);
    return () => diagnosticsChannel.unsubscribe(name, listener);
  });
  stops.push(...listeners);
  return (name: string) => seen.get(name) ?? 0;
}
const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

describe("metrics of Prisma's work, through the pool", () => {
  it("stats() and the diagnostics channels count every connection Prisma borrows", async () => {
    const name = `prisma-metrics-${process.pid}`;
    const events = recordEvents(name, [
      channelNames.poolCreate,
      channelNames.connectionCreate,
      channelNames.connectionAcquire,
      channelNames.connectionRelease,
    ]);
    const adapter = new PrismaLifeguard({ connectionString: h.db.url, max: 3, name });
    const prisma = h.client(adapter);
    expect(listPools()).toContain(adapter.pool.lifeguard); // what exporters poll

    await prisma.user.create({ data: { email: "m@example.com" } });
    await Promise.all(Array.from({ length: 6 }, () => prisma.user.count()));
    await prisma.$transaction(async (tx) => {
      await tx.user.findMany();
      await tx.user.count();
    });

    const stats = adapter.pool.stats();
    expect(stats.name).toBe(name);
    expect(stats.counters.acquires).toBeGreaterThanOrEqual(8); // 1 + 6 + one per transaction
    expect(stats.counters.releases).toBe(stats.counters.acquires);
    expect(stats.total).toBeGreaterThanOrEqual(1);
    expect(stats.total).toBeLessThanOrEqual(3);
    expect(stats.counters.prePings.ok + stats.counters.prePings.bypassed).toBeGreaterThan(0);
    expect(events(channelNames.connectionAcquire)).toBe(stats.counters.acquires);
    expect(events(channelNames.connectionRelease)).toBe(stats.counters.releases);
    expect(events(channelNames.connectionCreate)).toBe(stats.counters.creates);
    expect(events(channelNames.poolCreate)).toBe(1);
  });

  it("report the connection wait of a Prisma query", async () => {
    const name = `prisma-wait-${process.pid}`;
    const waits: number[] = [];
    const onAcquire = (message: unknown) => {
      const event = message as ConnectionEvent & { waitMillis: number };
      if (event.pool.name === name) waits.push(event.waitMillis);
    };
    diagnosticsChannel.subscribe(channelNames.connectionAcquire, onAcquire);
    stops.push(() => diagnosticsChannel.unsubscribe(channelNames.connectionAcquire, onAcquire));
    const clock = new ManualClock();
    const pool = new Pool({ connectionString: h.db.url, max: 1, name, clock });
    h.defer(() => pool.end());
    const adapter = new PrismaLifeguard(pool);
    const prisma = h.client(adapter);
    const held = await adapter.pool.connect();
    // Prisma's promises are lazy: then() sends the query
    const query = prisma.user.count().then((count) => count);
    // Prisma's query waits for the pool, and the pool shows it
    await vi.waitFor(() => expect(adapter.pool.stats().pending).toBe(1));
    await clock.advance(250);
    held.release();
    expect(await query).toBe(0);
    expect(waits).toEqual([0, 250]); // the held lease's, then the query's
    expect(adapter.pool.stats().counters.timeouts).toBe(0);
  });
});
