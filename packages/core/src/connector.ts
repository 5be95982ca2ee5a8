import type { Clock } from "./clock.js";

/** What the connector decided after bringing a session back to clean. */
export type ReleaseDecision = "keep" | "destroy";

/** Whether an error means the connection itself is gone, or only the statement failed. */
export type ErrorClass = "connection" | "statement";

/** What a connector may know about the pooled connection it is asked to act on. */
export interface ConnectionInfo {
  /** Pool-unique id, stable for the connection's life. */
  readonly id: number;
  /** When it was opened, on the pool's clock. */
  readonly createdAt: number;
  /** How many leases it has served, including the current one. */
  readonly uses: number;
  /**
   * The stack captured when the current lease was acquired, when leak detection is on
   * (`leakDetectionThresholdMillis > 0`); otherwise undefined.
   */
  readonly acquireStack: string | undefined;
}

/**
 * What every connector call receives: the same shape for `connect`, `ping`, `release` and
 * `destroy`, so a connector needs no back-references set after construction and arms its timers
 * on the pool's clock (a test's `ManualClock` then drives them too).
 */
export interface ConnectorContext {
  /**
   * Aborts when the pool stops waiting for this call: a connect or ping deadline, or `close()`.
   * For `release` and `destroy` it aborts when `close()` gives up waiting (a forced close).
   */
  readonly signal: AbortSignal;
  /** The pool's clock. */
  readonly clock: Clock;
  /** The pool's name, for messages and events. */
  readonly poolName: string;
}

/** The context of `connect`: the shared one plus a way to report the new connection's death. */
export interface ConnectContext extends ConnectorContext {
  /**
   * Call when the connection this `connect` opened dies on its own (socket ended, fatal error),
   * from the driver's `'end'`/`'error'` listeners. An idle connection then leaves the pool at once
   * instead of at the next check; calls for a leased connection, or after it was destroyed, are
   * ignored (the borrower's work fails and release retires it). Cheap and idempotent.
   */
  readonly connectionLost: (error?: unknown) => void;
}

/** Where a connection is: one server of those a connector spreads its connections over. */
export interface ServerAddress {
  readonly address: string;
  readonly port: number;
}

/**
 * One server a connector spreads its connections over (several hosts, e.g. a primary and its
 * replicas), as it knows it now. Read at collection time only (`pool.servers()`, the exporters).
 */
export interface ServerDescription extends ServerAddress {
  /** The server's role as the connector knows it (for PostgreSQL: `primary`, `standby`, `down`, `unknown`). */
  readonly role: string;
  /** The server answered and its role is known. */
  readonly up: boolean;
  /** How far behind a replica is, in seconds, when the connector measures it. */
  readonly lagSeconds: number | undefined;
  /** Consecutive failed connects to it (0 while it answers). */
  readonly connectFailures: number;
}

/**
 * The only part of a pool that knows the database. `@lifeguard/pg` provides one for PostgreSQL;
 * a stub is enough for tests of the engine. The contract is described in docs/architecture.md
 * ("The connector contract"). The pool calls a connector through one guard, so a method that
 * throws instead of rejecting is handled the same way as one that rejects.
 */
export interface Connector<C> {
  /**
   * Opens one raw connection. Must honour `context.signal` (the pool aborts on its deadline and on
   * close). A rejection classified `'statement'` (see {@link classify}) is the application's error
   * (an `onConnect` hook that threw, say): the acquire that asked for the connection fails with it
   * and the database is not treated as unavailable. Any other rejection counts as the database
   * being unreachable (backoff, then fail-fast).
   */
  connect(context: ConnectContext): Promise<C>;
  /** A free, local check: socket ended, fatal error seen. No I/O. */
  isBroken(connection: C): boolean;
  /** A round trip proving the server still answers; must honour `context.signal`. */
  ping(connection: C, context: ConnectorContext): Promise<void>;
  /**
   * Brings the session back to clean (roll back, reset) before the next borrower.
   * Return (or resolve) `'destroy'` when it cannot be reused; a rejection also destroys it.
   */
  release(
    connection: C,
    info: ConnectionInfo,
    context: ConnectorContext,
  ): ReleaseDecision | Promise<ReleaseDecision>;
  /** Closes the connection. Must not hang: bound it with a timeout if the close can block. */
  destroy(connection: C, context: ConnectorContext): void | Promise<void>;
  /** Does this error mean the connection is dead? */
  classify(error: unknown): ErrorClass;
  /** Optional counters merged into `pool.stats().connector` (resets, rollbacks, ...). */
  stats?(): Readonly<Record<string, number>>;
  /**
   * Optional: the latest moment, on the pool's clock (`context.clock`), a new connection may stay
   * in the pool, such as when the credentials it authenticated with expire. Asked once, when the
   * connect resolves (`now` is the pool's clock then); `undefined` or `Infinity` means no limit.
   * The pool caps the connection's lifetime by it, with `lifetimeJitter` applied to the time left
   * so connections opened with the same credentials do not retire together. A throw or a value
   * that is not a number means no limit.
   */
  expiresAt?(connection: C, now: number): number | undefined;
  /**
   * Optional, for a connector that spreads connections over several servers: the servers it uses.
   * With {@link serverOf} it gives `pool.servers()`, the pool's connections by server and state.
   * Asked only when someone reads `pool.servers()` (a metrics collection), never per acquire.
   */
  servers?(): readonly ServerDescription[];
  /** Optional, with {@link servers}: the server an open connection is on (undefined: unknown). */
  serverOf?(connection: C): ServerAddress | undefined;
}
