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
 * The only part of a pool that knows the database. `@lifeguard/pg` provides one for PostgreSQL;
 * a stub is enough for tests of the engine.
 */
export interface Connector<C> {
  /** Opens one raw connection. Must honour `signal` (the pool aborts on its deadline and on close). */
  connect(options: { signal: AbortSignal }): Promise<C>;
  /** A free, local check: socket ended, fatal error seen. No I/O. */
  isBroken(connection: C): boolean;
  /** A round trip proving the server still answers; must honour `signal`. */
  ping(connection: C, options: { signal: AbortSignal }): Promise<void>;
  /**
   * Brings the session back to clean (roll back, reset) before the next borrower.
   * Return (or resolve) `'destroy'` when it cannot be reused; a rejection also destroys it.
   */
  release(connection: C, info: ConnectionInfo): ReleaseDecision | Promise<ReleaseDecision>;
  /** Closes the connection. Must not hang: bound it with a timeout if the close can block. */
  destroy(connection: C): void | Promise<void>;
  /** Does this error mean the connection is dead? */
  classify(error: unknown): ErrorClass;
  /** Optional counters merged into `pool.stats().connector` (resets, rollbacks, ...). */
  stats?(): Readonly<Record<string, number>>;
}
