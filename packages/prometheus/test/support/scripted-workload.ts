/**
 * A scripted workload on the core's stub connector and a manual clock, shared by the tests of
 * both exporters (@lifeguard/otel imports this file too), so both are held to the same numbers.
 * Every duration is exact: time moves only when the script moves it.
 */
import type { ConnectionInfo, Pool, PoolLike, ReleaseDecision } from "@lifeguard/core";
import { createPool, ManualClock } from "@lifeguard/core";
import { channels } from "@lifeguard/core/internal";
import type { StubConnection } from "../../../core/test/support/stub-connector.js";
import { flush, StubConnector } from "../../../core/test/support/stub-connector.js";

/**
 * The stub connector, plus what the PostgreSQL connector publishes: a ROLLBACK of a transaction
 * left open, a session reset, an idle connection's error.
 */
export class EventfulStubConnector extends StubConnector {
  /** The pool, for event payloads (the pg connector holds it the same way). */
  pool: PoolLike | undefined;
  /** Connections whose borrower left a transaction open / changed session state. */
  readonly openTransaction = new Set<StubConnection>();
  readonly dirty = new Set<StubConnection>();

  override release(
    connection: StubConnection,
    info: ConnectionInfo,
  ): ReleaseDecision | Promise<ReleaseDecision> {
    const decision = super.release(connection, info);
    const pool = this.pool;
    if (pool !== undefined && this.openTransaction.delete(connection)) {
      if (channels.connectionRollback.hasSubscribers) {
        channels.connectionRollback.publish({
          pool,
          connectionId: info.id,
          acquireStack: undefined,
        });
      }
    }
    if (pool !== undefined && this.dirty.delete(connection)) {
      if (channels.connectionReset.hasSubscribers) {
        channels.connectionReset.publish({ pool, connectionId: info.id, acquireStack: undefined });
      }
    }
    return decision;
  }

  /** The backend of an idle connection died: the connection says so and is broken from now on. */
  idleError(connection: StubConnection): void {
    connection.broken = true;
    if (this.pool !== undefined && channels.connectionError.hasSubscribers) {
      channels.connectionError.publish({ pool: this.pool, error: new Error("terminated") });
    }
  }
}

export interface ScriptedPool {
  readonly pool: Pool<StubConnection>;
  readonly clock: ManualClock;
  readonly connector: EventfulStubConnector;
}

export function scriptedPool(name: string, options: { min?: number } = {}): ScriptedPool {
  const clock = new ManualClock();
  const connector = new EventfulStubConnector();
  const pool = createPool<StubConnection>({
    name,
    connector,
    clock,
    max: 2,
    min: options.min ?? 0,
    maxWaiting: 1,
    acquireTimeoutMillis: 1000,
    idleTimeoutMillis: 0,
    prePing: { bypassWindowMillis: 500, timeoutMillis: 200 },
    leakDetectionThresholdMillis: 5000,
  });
  connector.pool = pool;
  return { pool, clock, connector };
}

/** What {@link runScriptedWorkload} does to a pool, in the exporters' units (seconds). */
export const expected = {
  /** Three connections opened: 250 ms (slow), 40 ms, 30 ms. */
  createTimes: [0.25, 0.04, 0.03],
  /** Successful acquires: two waits for new connections, two from idle, one after a replacement. */
  waitTimes: [0.25, 0.04, 0, 0, 0.03],
  useTimes: [1.04, 0.005, 1.005, 5, 0.01],
  timeouts: 1,
  queueFull: 1,
  aborted: 1,
  unavailable: 0,
  prePings: { ok: 1, failed: 1, timeout: 0, bypassed: 1 },
  evictions: { "ping-failed": 1, broken: 1 },
  rollbacks: 1,
  resets: 1,
  leaks: 1,
  connectErrors: 0,
  connectionErrors: 1,
  /** At the end: one idle connection, nothing used or waiting; max 2, min 0. */
  idle: 1,
  used: 0,
  pending: 0,
  max: 2,
  min: 0,
} as const;

/**
 * The script. Pool "max 2, maxWaiting 1, acquire deadline 1 s, pre-ping bypass 500 ms, leak
 * threshold 5 s". Leak detection with nobody on `lifeguard:pool:leak` emits a process warning:
 * the caller should silence `process.emitWarning`.
 */
export async function runScriptedWorkload({ pool, clock, connector }: ScriptedPool): Promise<void> {
  connector.mode = "manual";
  // a slow create: the first caller waits 250 ms for it
  const first = pool.acquire();
  await clock.advance(250);
  connector.finishConnect();
  const a1 = await first;
  // a second connection, 40 ms
  const second = pool.acquire();
  await clock.advance(40);
  connector.finishConnect();
  const a2 = await second;

  // the pool is full: one caller waits, the next is turned away (maxWaiting 1), one gives up
  const waiting = pool.acquire().catch((error: unknown) => error);
  await pool.acquire().catch(() => undefined); // queue full
  await pool.acquire({ signal: AbortSignal.abort() }).catch(() => undefined); // aborted
  await clock.advance(1000);
  const timedOut = await waiting;
  if (!(timedOut instanceof Error) || timedOut.name !== "AcquireTimeoutError") {
    throw new Error(`expected an acquire timeout, got ${String(timedOut)}`);
  }

  // a1 comes back with a transaction left open: rolled back on release (used 1040 ms)
  connector.openTransaction.add(a1.connection);
  a1.release();
  // borrowed again at once: within the bypass window, no ping; returned dirty after 5 ms: reset
  const a4 = await pool.acquire();
  await clock.advance(5);
  connector.dirty.add(a4.connection);
  a4.release();
  a2.release(); // used 1005 ms

  // 600 ms idle: past the bypass window, the next borrow pings. The first connection tried
  // (the most recently returned) fails its ping and is replaced by the other, which answers.
  await clock.advance(600);
  a2.connection.ping = "fail";
  const a5 = await pool.acquire();
  // held past the leak threshold, then returned
  await clock.advance(5000);
  a5.release();

  // the idle connection's backend dies; the next borrow finds it broken and opens a new one (30 ms)
  connector.idleError(a5.connection);
  const sixth = pool.acquire();
  await flush();
  await clock.advance(30);
  connector.finishConnect();
  const a6 = await sixth;
  await clock.advance(10);
  a6.release();
}
