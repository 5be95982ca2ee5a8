/**
 * docs/reliability.md, "Server down": the server is down. Acquires fail fast with `DatabaseUnavailableError` (never hang),
 * connect attempts follow the backoff schedule (10 ms doubling to 5 s, equal jitter), and the
 * pool recovers by itself when the server returns.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import {
  type ConnectionCreateErrorEvent,
  channelNames,
  DatabaseUnavailableError,
  ManualClock,
} from "@lifeguard/core";
import { backoffDelay } from "@lifeguard/core/internal";
import { usePrivateServer } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Pool } from "../../src/index.js";
import { countingClient, Load, report, tally } from "./support.js";

const server = usePrivateServer();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await server.start(); // every test starts with the server up
});

const MAX = 10;

/** Records `lifeguard:connection:create-error` events of one pool, with the pool clock's time. */
function createErrors(pool: Pool, now: () => number) {
  const events: (ConnectionCreateErrorEvent & { at: number })[] = [];
  const onMessage = (message: unknown) => {
    const event = message as ConnectionCreateErrorEvent;
    if (event.pool === pool.lifeguard) events.push({ ...event, at: now() });
  };
  subscribe(channelNames.connectionCreateError, onMessage);
  cleanups.push(async () => unsubscribe(channelNames.connectionCreateError, onMessage));
  return events;
}

const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => "served" as const,
    (error: unknown) => error,
  );

describe("server down", () => {
  it("Lifeguard: acquires fail fast with DatabaseUnavailableError, connects follow the backoff exactly, and it recovers", async () => {
    await server.stop();
    const clock = new ManualClock();
    const { Client, attempts } = countingClient();
    const pool = new Pool({
      connectionString: server.url,
      max: MAX,
      Client,
      clock,
      random: () => 0.5,
    });
    cleanups.push(() => pool.end());
    const errors = createErrors(pool, () => clock.now());
    const start = clock.now();

    // ten callers at once on an empty pool: ten connects, all refused; nobody waits for the deadline
    const first = await Promise.all(Array.from({ length: MAX }, () => outcome(pool.connect())));
    expect(clock.now()).toBe(start); // the pool's clock never moved: no deadline was waited out
    for (const error of first) {
      expect(error).toBeInstanceOf(DatabaseUnavailableError);
      expect((error as DatabaseUnavailableError).cause).toMatchObject({ code: "ECONNREFUSED" });
    }
    expect(attempts()).toBe(MAX);
    // refused together, they count as one failure: the next try is on the first step (7.5 ms)
    expect(errors.map((e) => e.failures)).toEqual(Array(MAX).fill(1));
    expect(pool.stats().circuit).toBe("open");

    // while the circuit is open: rejected at once, with no connect of their own
    for (let i = 0; i < 100; i++) {
      expect(await outcome(pool.query("select 1"))).toBeInstanceOf(DatabaseUnavailableError);
    }
    expect(attempts()).toBe(MAX);

    // the probes: exactly one connect per step of the schedule, never early
    const schedule: number[] = [];
    for (let failures = 1; failures <= 12; failures++) {
      const delay = backoffDelay(failures, 0.5);
      schedule.push(delay);
      const before = attempts();
      await clock.advance(delay - 0.5);
      expect(attempts(), `no connect before step ${failures}`).toBe(before);
      await clock.advance(0.5);
      expect(attempts(), `one connect at step ${failures}`).toBe(before + 1);
      await vi.waitFor(() => expect(errors.at(-1)?.failures).toBe(failures + 1));
    }
    expect(schedule.at(-1)).toBe(3750); // the 5 s cap, with jitter 0.5

    // the server returns: the next probe gets through and closes the circuit
    await server.start();
    const rejectedAfterStart = await outcome(pool.query("select 1")); // before the next probe
    expect(rejectedAfterStart).toBeInstanceOf(DatabaseUnavailableError);
    const probeIn = backoffDelay(13, 0.5);
    await clock.advance(probeIn);
    await vi.waitFor(() => expect(pool.stats().circuit).toBe("closed"));
    await expect(pool.query("select 1 as one")).resolves.toMatchObject({ rows: [{ one: 1 }] });
    expect(pool.stats().counters.createErrors).toBe(MAX + 12);
    report("down-lifeguard-schedule", {
      burst: MAX,
      scheduleMillis: schedule,
      probesIn60s: schedule.filter(
        (_, i) => schedule.slice(0, i + 1).reduce((a, b) => a + b, 0) <= 60_000,
      ).length,
      recoveryAfterAcceptingMillis: probeIn,
      fastFailures: pool.stats().counters.unavailable,
    });
  });

  it("Lifeguard, real clock: an outage of 8 failed probes, then recovery without any caller action", async () => {
    const name = "lg_rel_down";
    const { Client, attempts } = countingClient();
    const pool = new Pool({
      connectionString: server.url,
      max: MAX,
      Client,
      application_name: name,
    });
    cleanups.push(() => pool.end());
    const errors = createErrors(pool, () => performance.now());
    await pool.query("select 1");
    let circuitClosedAt = 0;
    const onClose = () => {
      circuitClosedAt = performance.now();
    };
    subscribe(channelNames.circuitClose, onClose);
    cleanups.push(async () => unsubscribe(channelNames.circuitClose, onClose));

    const load = new Load(
      8,
      () => pool.query("select 1"),
      async (error) => {
        const wait = error instanceof DatabaseUnavailableError ? error.retryInMillis : 0;
        await new Promise((resolve) => setTimeout(resolve, Math.max(1, wait)));
      },
    );
    cleanups.push(() => load.stop());
    await load.until(() => load.successesSince(0) >= 100);
    const stopAt = performance.now();
    const attemptsBefore = attempts();
    await server.stop();
    await vi.waitFor(() => expect(errors.at(-1)?.failures ?? 0).toBeGreaterThanOrEqual(8), {
      timeout: 10_000,
    });
    const startAt = performance.now();
    await server.start();
    const acceptingAt = performance.now();
    await load.until(() => load.successesSince(acceptingAt) >= 100);
    await load.stop();

    const failed = load.records.filter((r) => r.error !== undefined);
    for (const r of failed) {
      // in flight at the stop, or turned away fast while no connection could be made
      if (!(r.error instanceof DatabaseUnavailableError)) expect(r.start).toBeLessThan(startAt);
    }
    expect(circuitClosedAt).toBeGreaterThan(acceptingAt);
    const afterClose = load.records.filter((r) => r.start >= circuitClosedAt);
    expect(afterClose.length).toBeGreaterThanOrEqual(100);
    expect(afterClose.filter((r) => r.error !== undefined)).toEqual([]);
    // one connect at a time after the first burst: far fewer than one per caller attempt
    const connects = attempts() - attemptsBefore;
    expect(connects).toBeLessThanOrEqual(2 * MAX + errors.length);
    expect(connects).toBeLessThan(failed.length);
    const lastDelay = errors.filter((e) => e.at < acceptingAt).at(-1)?.retryInMillis ?? 0;
    report("down-lifeguard-realtime", {
      outageMillis: Math.round(acceptingAt - stopAt),
      connectsDuringOutage: connects,
      failedRequests: tally(failed.map((r) => r.error)),
      lastBackoffDelayMillis: Math.round(lastDelay),
      recoveryAfterAcceptingMillis: Math.round(circuitClosedAt - acceptingAt),
    });
  });

  it("plain pg.Pool: every caller makes its own connect attempt, with no backoff and no fail-fast", async () => {
    await server.stop();
    const { Client, attempts } = countingClient();
    const pool = new pg.Pool({ connectionString: server.url, max: MAX, Client });
    cleanups.push(() => pool.end());
    const results = [];
    for (let i = 0; i < 100; i++) results.push(await outcome(pool.query("select 1")));
    for (const error of results) expect(error).toMatchObject({ code: "ECONNREFUSED" });
    expect(attempts()).toBe(100);
    report("down-pg", { callers: 100, connectAttempts: attempts() });
  });
});
