import { inspect } from "node:util";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { PoolStats } from "../src/index.js";
import { channelNames, listPools } from "../src/index.js";
import { channels } from "../src/internal.js";
import { listen, setup, track } from "./support/harness.js";
import { flush, StubConnectionError, StubConnector } from "./support/stub-connector.js";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("stats()", () => {
  it("is a plain snapshot that later changes do not touch", async () => {
    const { pool } = setup({ name: "snap", min: 1, max: 4 });
    await pool.warmup();
    const before = pool.stats();
    const lease = await pool.acquire();
    const during = pool.stats();
    expect(before).toMatchObject({ total: 1, idle: 1, used: 0, leased: 0 });
    expect(during).toMatchObject({ total: 1, idle: 0, used: 1, leased: 1 });
    expect(Object.getPrototypeOf(before)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(before))).toEqual(before);
    // mutating a snapshot does not reach the pool
    (before.counters as { acquires: number }).acquires = 99;
    (before.counters.destroys as Record<string, number>)["broken"] = 99;
    expect(pool.stats().counters.acquires).toBe(1);
    expect(pool.stats().counters.destroys.broken).toBe(0);
    lease.release();
    expect(during.leased).toBe(1);
  });

  it("reports every field with its defaults", () => {
    const { pool } = setup({ name: "fields" });
    const stats: PoolStats = pool.stats();
    expect(stats).toEqual({
      name: "fields",
      state: "open",
      total: 0,
      idle: 0,
      used: 0,
      leased: 0,
      validating: 0,
      releasing: 0,
      creating: 0,
      expiring: 0,
      pending: 0,
      min: 0,
      max: 10,
      circuit: "closed",
      counters: {
        acquires: 0,
        releases: 0,
        timeouts: 0,
        aborts: 0,
        queueFull: 0,
        unavailable: 0,
        creates: 0,
        createErrors: 0,
        destroys: {
          broken: 0,
          "ping-failed": 0,
          error: 0,
          "released-destroy": 0,
          "reset-failed": 0,
          lifetime: 0,
          idle: 0,
          "max-uses": 0,
          evicted: 0,
          shutdown: 0,
        },
        prePings: { ok: 0, failed: 0, timeout: 0, bypassed: 0 },
        leaks: 0,
        clockLeaps: 0,
      },
      connector: {},
    });
  });

  it("includes a copy of the connector's own counters", async () => {
    const counters = { resets: 3 };
    const connector = Object.assign(new StubConnector(), { stats: () => counters });
    const { pool } = setup({ connector });
    const snapshot = pool.stats();
    expect(snapshot.connector).toEqual({ resets: 3 });
    counters.resets = 4;
    expect(snapshot.connector).toEqual({ resets: 3 });
  });

  it("counts creating and pending while connects are in flight", async () => {
    const connector = new StubConnector();
    connector.mode = "manual";
    const { pool } = setup({ connector, max: 2 });
    void track(pool.acquire());
    void track(pool.acquire());
    void track(pool.acquire());
    await flush();
    expect(pool.stats()).toMatchObject({ creating: 2, pending: 3, total: 0 });
    connector.finishConnect();
    await flush();
    expect(pool.stats()).toMatchObject({ creating: 1, pending: 2, total: 1, leased: 1 });
  });

  it("shows only the snapshot when inspected or serialised, and is listed while open", async () => {
    const { pool } = setup({ name: "inspect-me" });
    expect(inspect(pool)).toBe(
      'Pool { name: "inspect-me", state: open, total: 0, idle: 0, used: 0, pending: 0, max: 10 }',
    );
    expect(JSON.parse(JSON.stringify(pool))).toMatchObject({ name: "inspect-me", total: 0 });
    expect(listPools()).toContain(pool);
    await pool.close();
    expect(listPools()).not.toContain(pool);
  });
});

describe("diagnostics channels", () => {
  it("names every channel lifeguard:pool:* or lifeguard:connection:*", () => {
    for (const name of Object.values(channelNames)) {
      expect(name).toMatch(/^lifeguard:(pool|connection):[a-z-]+$/);
    }
    expect(new Set(Object.values(channelNames)).size).toBe(Object.keys(channelNames).length);
  });

  it("publishes the life of a connection", async () => {
    const connector = new StubConnector();
    const events: string[] = [];
    const record =
      (what: string) =>
      (payload: Record<string, unknown>): void => {
        events.push(
          `${what} #${String(payload["connectionId"])} ${String(payload["reason"] ?? payload["result"] ?? "")}`.trim(),
        );
      };
    const create = listen<Record<string, unknown>>("lifeguard:pool:create");
    const { pool, clock } = setup({ connector, name: "life" });
    expect(create.some((e) => e["pool"] === pool)).toBe(true);
    const onCreate = listen<Record<string, unknown>>("lifeguard:connection:create", pool);
    const onAcquire = listen<Record<string, unknown>>("lifeguard:connection:acquire", pool);
    const onRelease = listen<Record<string, unknown>>("lifeguard:connection:release", pool);
    const onPing = listen<Record<string, unknown>>("lifeguard:connection:ping", pool);
    const onDestroy = listen<Record<string, unknown>>("lifeguard:connection:destroy", pool);
    const all = [
      ["create", onCreate],
      ["acquire", onAcquire],
      ["release", onRelease],
      ["ping", onPing],
      ["destroy", onDestroy],
    ] as const;

    const lease = await pool.acquire();
    await clock.advance(40);
    lease.release();
    await clock.advance(1000);
    const again = await pool.acquire();
    again.release({ error: new StubConnectionError("gone") });
    await flush();
    for (const [what, list] of all) for (const payload of list) record(what)(payload);
    expect(events.sort()).toEqual(
      [
        "create #1",
        "acquire #1",
        "release #1",
        "ping #1 ok",
        "acquire #1",
        "release #1",
        "destroy #1 error",
      ].sort(),
    );
    expect(onAcquire[0]).toMatchObject({ pool, connectionId: 1, waitMillis: 0 });
    expect(onRelease[0]).toMatchObject({ pool, connectionId: 1, useMillis: 40 });
    expect(onPing[0]).toMatchObject({ pool, connectionId: 1, result: "ok", durationMillis: 0 });
    expect(onCreate[0]).toMatchObject({ pool, connectionId: 1, durationMillis: 0 });
  });

  it("publishes pool events: timeouts, queue full, circuit, clock leap and close", async () => {
    const connector = new StubConnector();
    const { pool, clock } = setup({ connector, max: 1, maxWaiting: 1, acquireTimeoutMillis: 100 });
    const timeouts = listen<Record<string, unknown>>("lifeguard:pool:acquire-timeout", pool);
    const full = listen<Record<string, unknown>>("lifeguard:pool:queue-full", pool);
    const unavailable = listen<Record<string, unknown>>("lifeguard:pool:unavailable", pool);
    const open = listen<Record<string, unknown>>("lifeguard:pool:circuit-open", pool);
    const close = listen<Record<string, unknown>>("lifeguard:pool:circuit-close", pool);
    const createErrors = listen<Record<string, unknown>>("lifeguard:connection:create-error", pool);
    const leaps = listen<Record<string, unknown>>("lifeguard:pool:clock-leap", pool);
    const closed = listen<Record<string, unknown>>("lifeguard:pool:close", pool);

    const held = await pool.acquire();
    void track(pool.acquire());
    await pool.acquire().catch(() => undefined);
    expect(full).toHaveLength(1);
    expect(full[0]).toMatchObject({ pool, waitMillis: 0 });
    await clock.advance(100);
    expect(timeouts).toHaveLength(1);
    expect(timeouts[0]).toMatchObject({ pool, waitMillis: 100 });
    expect(timeouts[0]?.["error"]).toMatchObject({ name: "AcquireTimeoutError" });

    held.release({ destroy: true });
    connector.mode = "fail";
    await pool.acquire().catch(() => undefined);
    expect(createErrors[0]).toMatchObject({ pool, failures: 1, error: connector.failure });
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ pool, error: connector.failure });
    expect(unavailable).toHaveLength(1);
    expect(unavailable[0]).toMatchObject({ pool, waitMillis: 0 });
    expect(unavailable[0]?.["error"]).toMatchObject({ code: "LIFEGUARD_DB_UNAVAILABLE" });
    connector.mode = "ok";
    await clock.advance(100);
    expect(close).toHaveLength(1);

    await clock.leap(5000);
    expect(leaps).toHaveLength(1);
    await pool.close();
    expect(closed).toEqual([{ pool, forced: false, leasesOutstanding: 0 }]);
  });

  it("publishes nothing, and builds no payload, when nobody subscribes", async () => {
    const spies = Object.values(channels).map((channel) => vi.spyOn(channel, "publish"));
    for (const channel of Object.values(channels)) expect(channel.hasSubscribers).toBe(false);
    const connector = new StubConnector();
    const { pool, clock } = setup({
      connector,
      max: 1,
      maxWaiting: 1,
      acquireTimeoutMillis: 100,
      leakDetectionThresholdMillis: 50,
    });
    vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    const held = await pool.acquire();
    void track(pool.acquire());
    await pool.acquire().catch(() => undefined);
    await clock.advance(1000);
    held.release({ error: new StubConnectionError("gone") });
    connector.mode = "fail";
    await pool.acquire().catch(() => undefined);
    connector.mode = "ok";
    await clock.advance(100);
    (await pool.acquire()).release();
    await clock.leap(5000);
    await pool.close();
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    expect(pool.stats().counters).toMatchObject({
      timeouts: 1,
      queueFull: 1,
      unavailable: 1,
      leaks: 1,
      clockLeaps: 1,
    });
  });
});
