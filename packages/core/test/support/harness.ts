import diagnosticsChannel from "node:diagnostics_channel";
import { onTestFinished } from "vitest";
import type { ChannelName, Pool, PoolOptions } from "../../src/index.js";
import { createPool, ManualClock } from "../../src/index.js";
import type { StubConnection } from "./stub-connector.js";
import { StubConnector } from "./stub-connector.js";

export type TestPoolOptions = Omit<PoolOptions<StubConnection>, "connector" | "clock"> & {
  connector?: StubConnector;
  clock?: ManualClock;
};

export interface Harness {
  readonly clock: ManualClock;
  readonly connector: StubConnector;
  readonly pool: Pool<StubConnection>;
}

/** A pool over a fresh stub connector on a manual clock. */
export function setup(options: TestPoolOptions = {}): Harness {
  const clock = options.clock ?? new ManualClock();
  const connector = options.connector ?? new StubConnector();
  const pool = createPool<StubConnection>({ ...options, connector, clock });
  return { clock, connector, pool };
}

/** A promise whose outcome can be read synchronously (and whose rejection is always handled). */
export interface Tracked<T> {
  readonly promise: Promise<T>;
  status: "pending" | "fulfilled" | "rejected";
  value: T | undefined;
  error: unknown;
}

export function track<T>(promise: Promise<T>): Tracked<T> {
  const tracked: Tracked<T> = { promise, status: "pending", value: undefined, error: undefined };
  promise.then(
    (value) => {
      tracked.status = "fulfilled";
      tracked.value = value;
    },
    (error: unknown) => {
      tracked.status = "rejected";
      tracked.error = error;
    },
  );
  return tracked;
}

/** Records what is published on `name` (for `pool`, when given) until the test ends. */
export function listen<T = Record<string, unknown>>(
  name: ChannelName,
  pool?: { readonly name: string },
): T[] {
  const events: T[] = [];
  const onMessage = (message: unknown) => {
    if (pool === undefined || (message as { pool?: unknown }).pool === pool)
      events.push(message as T);
  };
  diagnosticsChannel.subscribe(name, onMessage);
  onTestFinished(() => {
    diagnosticsChannel.unsubscribe(name, onMessage);
  });
  return events;
}

/** A function returning the given values in turn, then the last one forever. */
export function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)] ?? 0;
}
