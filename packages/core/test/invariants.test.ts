/**
 * Seeded randomized invariant test (tarn's idea, made to run): thousands of random steps against a
 * stub database that connects, fails, hangs, breaks and cleans up at random, with the pool's
 * invariants checked after every step. A failure names its seed and the steps that led to it;
 * replay one with LIFEGUARD_SEED=<seed> (and LIFEGUARD_STEPS=<n>), or sweep many with
 * LIFEGUARD_SEED=1..500.
 */
import { describe, expect, it } from "vitest";
import type { Lease, PoolOptions } from "../src/index.js";
import { ManualClock } from "../src/index.js";
import type { Tracked } from "./support/harness.js";
import { listen, setup, track } from "./support/harness.js";
import type { StubConnection } from "./support/stub-connector.js";
import { flush, StubConnectionError, StubConnector } from "./support/stub-connector.js";

/** mulberry32: a small, fast, seedable PRNG. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** LIFEGUARD_SEED=42 replays one seed; LIFEGUARD_SEED=1..500 sweeps a range. */
function seedsFromEnv(value: string | undefined): number[] | undefined {
  const range = /^(\d+)\.\.(\d+)$/.exec(value ?? "");
  if (range) {
    const [from, to] = [Number(range[1]), Number(range[2])];
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  }
  return value !== undefined && /^\d+$/.test(value) ? [Number(value)] : undefined;
}
const SEEDS = seedsFromEnv(process.env["LIFEGUARD_SEED"]) ?? [
  1, 2, 3, 7, 42, 1337, 20_240_601, 987_654_321,
];
const STEPS = Number(process.env["LIFEGUARD_STEPS"] ?? 2000);

interface Acquired {
  readonly tracked: Tracked<Lease<StubConnection>>;
  readonly controller: AbortController | undefined;
  checked: boolean;
}

async function run(seed: number, steps: number): Promise<void> {
  const rng = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;

  const max = int(1, 4);
  const options: Omit<PoolOptions<StubConnection>, "connector" | "clock"> = {
    max,
    min: int(0, max),
    acquireTimeoutMillis: int(200, 2000),
    idleTimeoutMillis: pick([0, 1500, 4000]),
    maxLifetimeSeconds: pick([0, 3, 10]),
    maxUses: pick([Number.POSITIVE_INFINITY, 3]),
    maxWaiting: pick([Number.POSITIVE_INFINITY, 3]),
    prePing: pick([
      false,
      { bypassWindowMillis: 0, timeoutMillis: 50 },
      { bypassWindowMillis: 100, timeoutMillis: 300 },
      { bypassWindowMillis: 500, timeoutMillis: 2000 },
    ] as const),
    leakDetectionThresholdMillis: pick([0, 500]),
    random: mulberry32(seed ^ 0x9e3779b9),
  };
  const clock = new ManualClock();
  const connector = new StubConnector();
  listen("lifeguard:pool:leak"); // a subscriber, so leaks are events rather than process warnings
  const { pool } = setup({ ...options, clock, connector });

  const history: string[] = [`options ${JSON.stringify(options)}`];
  let stepIndex = -1;
  const fail = (what: string): never => {
    throw new Error(
      `invariant broken (seed ${seed}, step ${stepIndex}): ${what}\nlast steps:\n  ${history.slice(-40).join("\n  ")}`,
    );
  };
  const check = (ok: boolean, what: () => string) => {
    if (!ok) fail(what());
  };

  const acquired: Acquired[] = [];
  let held: Lease<StubConnection>[] = [];

  const acquire = (acquireOptions: { signal?: AbortSignal; timeoutMillis?: number }) => {
    const entry: Acquired = {
      tracked: track(pool.acquire(acquireOptions)),
      controller: undefined,
      checked: false,
    };
    acquired.push(entry);
    return entry;
  };

  /** Everything that must hold whenever the pool is at rest. */
  const verify = (open: boolean) => {
    check(connector.misuse.length === 0, () => `connector misused: ${connector.misuse.join("; ")}`);
    // newly served callers: a live, healthy connection nobody else holds
    for (const a of acquired) {
      if (a.checked || a.tracked.status === "pending") continue;
      a.checked = true;
      const lease = a.tracked.value;
      if (lease === undefined) continue;
      const c = lease.connection;
      check(!c.destroyed, () => `served destroyed connection ${c.id}`);
      check(!c.broken, () => `served broken connection ${c.id}`);
      check(!held.some((h) => h.connection === c), () => `connection ${c.id} handed out twice`);
      held.push(lease);
    }
    if (!open) return; // close() takes leases back at its deadline
    for (const lease of held) {
      check(
        !lease.released,
        () =>
          `lease of ${lease.connection.id} released behind our back (entry ${lease.entry.state}, ${lease.entry.lease === undefined ? "no lease" : "another lease"}, destroyed=${lease.connection.destroyed})`,
      );
    }
    const s = pool.stats();
    check(s.total <= max, () => `total ${s.total} > max ${max}`);
    check(s.total + s.creating <= max, () => `total ${s.total} + creating ${s.creating} > max`);
    check(s.idle + s.used === s.total, () => `idle + used != total in ${JSON.stringify(s)}`);
    check(
      s.leased + s.validating + s.releasing === s.used,
      () => `used ${s.used} != leased + validating + releasing`,
    );
    check(
      s.total === connector.live.length,
      () => `stats total ${s.total} but ${connector.live.length} live connections`,
    );
    check(s.leased === held.length, () => `stats leased ${s.leased} but we hold ${held.length}`);
    const pending = acquired.filter((a) => a.tracked.status === "pending").length;
    check(s.pending === pending, () => `stats pending ${s.pending} but ${pending} unsettled`);
    check(s.circuit === "closed" || s.total === 0, () => "circuit open with connections open");
    // nobody waits while a connection sits idle (only callers whose pre-ping is running may)
    check(
      s.idle === 0 || s.pending <= s.validating,
      () => `${s.pending} waiting while ${s.idle} idle (${s.validating} validating)`,
    );
    check(clock.pendingTimers <= 1, () => `${clock.pendingTimers} timers armed`);
  };

  const releaseOne = (lease: Lease<StubConnection>, how: string) => {
    held = held.filter((h) => h !== lease);
    if (how === "destroy") lease.release({ destroy: true });
    else if (how === "connection-error") lease.release({ error: new StubConnectionError("gone") });
    else if (how === "statement-error") lease.release({ error: new Error("syntax error") });
    else lease.release();
  };

  const actions: [number, () => Promise<void> | void][] = [
    [
      18,
      () => {
        const withSignal = rng() < 0.3;
        const withTimeout = rng() < 0.3;
        const controller = withSignal ? new AbortController() : undefined;
        const timeoutMillis = withTimeout ? int(10, 1500) : undefined;
        history.push(`acquire signal=${withSignal} timeout=${timeoutMillis}`);
        const a = acquire({
          ...(controller === undefined ? {} : { signal: controller.signal }),
          ...(timeoutMillis === undefined ? {} : { timeoutMillis }),
        });
        (a as { controller: AbortController | undefined }).controller = controller;
      },
    ],
    [
      16,
      () => {
        const lease = held.length > 0 ? pick(held) : undefined;
        if (lease === undefined) return;
        const how = pick([
          "keep",
          "keep",
          "keep",
          "destroy",
          "connection-error",
          "statement-error",
        ]);
        history.push(`release #${lease.connection.id} ${how}`);
        releaseOne(lease, how);
      },
    ],
    [
      5,
      () => {
        const open = acquired.filter(
          (a) => a.controller !== undefined && !a.controller.signal.aborted,
        );
        if (open.length === 0) return;
        history.push("abort");
        pick(open).controller?.abort(new Error("caller left"));
      },
    ],
    [
      16,
      async () => {
        const ms = rng() < 0.9 ? int(1, 700) : int(700, 5000);
        history.push(`advance ${ms}`);
        await clock.advance(ms);
      },
    ],
    [
      1,
      async () => {
        const ms = int(2000, 30_000);
        history.push(`leap ${ms}`);
        await clock.leap(ms);
      },
    ],
    [
      5,
      () => {
        connector.mode = pick(["ok", "ok", "ok", "ok", "ok", "fail", "manual", "manual"] as const);
        connector.honourConnectAbort = rng() < 0.7;
        history.push(`connect mode ${connector.mode} honourAbort=${connector.honourConnectAbort}`);
      },
    ],
    [
      8,
      () => {
        if (connector.pendingConnects.length === 0) return;
        if (rng() < 0.75) {
          const c = connector.finishConnect();
          history.push(`connect finished #${c.id}`);
        } else {
          history.push("connect failed");
          connector.failConnect();
        }
      },
    ],
    [
      3,
      () => {
        const live = connector.live;
        if (live.length === 0) return;
        const c = pick(live);
        c.broken = true;
        history.push(`break #${c.id}`);
      },
    ],
    [
      4,
      () => {
        const live = connector.live;
        if (live.length === 0) return;
        const c = pick(live);
        c.ping = pick(["ok", "ok", "fail", "hang", "manual"] as const);
        history.push(`ping mode #${c.id} ${c.ping}`);
      },
    ],
    [
      4,
      () => {
        if (connector.pendingPings.length === 0) return;
        const result = rng() < 0.7 ? "ok" : "fail";
        const c = connector.finishPing(result);
        history.push(`ping finished #${c.id} ${result}`);
      },
    ],
    [
      3,
      () => {
        connector.releaseMode = pick(["keep", "keep", "destroy", "async", "throw"] as const);
        history.push(`release mode ${connector.releaseMode}`);
      },
    ],
    [
      4,
      () => {
        const d = connector.pendingReleases[0];
        if (d === undefined) return;
        const outcome = pick(["keep", "keep", "destroy", "reject"] as const);
        history.push(`async release finished ${outcome}`);
        connector.pendingReleases.shift();
        if (outcome === "reject") d.reject(new Error("reset failed"));
        else d.resolve(outcome);
      },
    ],
    [
      2,
      () => {
        const olderThan = rng() < 0.5 ? undefined : int(0, 5000);
        history.push(`evict olderThan=${olderThan}`);
        pool.evict(olderThan === undefined ? {} : { olderThan });
      },
    ],
  ];
  const totalWeight = actions.reduce((sum, [w]) => sum + w, 0);

  await flush();
  verify(true);
  for (let step = 0; step < steps; step++) {
    stepIndex = step;
    history.push(`-- step ${step}`);
    let roll = rng() * totalWeight;
    for (const [weight, action] of actions) {
      roll -= weight;
      if (roll < 0) {
        await action();
        break;
      }
    }
    await flush();
    verify(true);
  }

  // wind down: the database recovers, every caller is either served or turned away
  history.push("-- wind down");
  connector.mode = "ok";
  connector.releaseMode = "keep";
  for (const c of connector.live) c.ping = "ok";
  for (let round = 0; round < 40; round++) {
    history.push(`wind down round ${round}: held ${held.map((h) => h.connection.id).join(",")}`);
    while (connector.pendingConnects.length > 0) connector.finishConnect();
    while (connector.pendingPings.length > 0) connector.finishPing("ok");
    while (connector.pendingReleases.length > 0) connector.pendingReleases.shift()?.resolve("keep");
    for (const lease of [...held]) releaseOne(lease, "keep");
    await clock.advance(500);
    verify(true);
    if (acquired.every((a) => a.tracked.status !== "pending") && held.length === 0) break;
  }
  const unsettled = acquired.filter((a) => a.tracked.status === "pending").length;
  check(unsettled === 0, () => `${unsettled} acquire promises never settled`);

  // close with some leases still out, some connects still pending
  history.push("-- close");
  const outstanding = int(0, Math.min(2, max));
  for (let i = 0; i < outstanding; i++) acquire({});
  if (rng() < 0.5) {
    connector.mode = "manual";
    connector.honourConnectAbort = rng() < 0.5;
    acquire({});
  }
  await flush();
  verify(true);
  const closing = track(pool.close({ timeoutMillis: pick([0, 300]) }));
  await clock.advance(300);
  await flush();
  check(closing.status === "fulfilled", () => `close did not finish: ${closing.status}`);
  verify(false);
  const leftOut = held.length;
  check(
    closing.value?.leasesOutstanding.length === leftOut,
    () =>
      `close reported ${closing.value?.leasesOutstanding.length} leases out, we hold ${leftOut}`,
  );
  for (const lease of [...held]) releaseOne(lease, "keep"); // late: must not throw
  while (connector.pendingConnects.length > 0) connector.finishConnect(); // connects that ignored the abort
  await flush();
  check(
    acquired.every((a) => a.tracked.status !== "pending"),
    () => "acquire pending after close",
  );
  const survivors = connector.opened.filter((c) => !c.destroyed).map((c) => c.id);
  check(survivors.length === 0, () => `connections never destroyed: ${survivors.join(", ")}`);
  check(connector.misuse.length === 0, () => `connector misused: ${connector.misuse.join("; ")}`);
  check(clock.pendingTimers === 0, () => `${clock.pendingTimers} timers armed after close`);
  expect(pool.state).toBe("closed");
}

describe("randomized invariants", () => {
  it.each(SEEDS)("holds for seed %i", async (seed) => {
    await run(seed, STEPS);
  });
});
