import type { PoolEntry } from "./entry.js";

/** How a borrower hands a connection back. */
export interface ReleaseOptions {
  /** Close the connection instead of reusing it. */
  destroy?: boolean;
  /**
   * The error the borrower's work failed with, if any. The connector classifies it: a connection
   * error closes this connection and retires every connection opened before it (they likely share
   * its fate: failover, restart); a statement error keeps it.
   */
  error?: unknown;
}

/** The pool's lease callbacks, keyed by module-private symbols (not part of the public API). */
export const kReleaseLease = Symbol("lifeguard.releaseLease");
export const kLeaseOverdue = Symbol("lifeguard.leaseOverdue");

/** What a lease needs from its pool. @internal */
export interface LeaseOwner<C> {
  [kReleaseLease](lease: Lease<C>, options: ReleaseOptions | undefined): void;
  [kLeaseOverdue](entry: PoolEntry<C>, now: number): void;
}

/**
 * One borrow of one connection. Release it exactly once: `lease.release()`, or let `await using`
 * do it.
 *
 * ```ts
 * await using lease = await pool.acquire();
 * await lease.connection.query("select 1");
 * ```
 */
export class Lease<C> implements AsyncDisposable {
  // one field: a lease is made on every acquire, the per-borrow state lives on the entry
  /** @internal */
  readonly entry: PoolEntry<C>;

  /** @internal */
  constructor(entry: PoolEntry<C>) {
    this.entry = entry;
  }

  /** The raw connection, exactly as the connector opened it. */
  get connection(): C {
    return this.entry.connection;
  }

  /** True once released (or taken back by a forced close). */
  get released(): boolean {
    return this.entry.lease !== this;
  }

  /**
   * Gives the connection back. Throws `LeaseReleasedError` when called twice: a second release
   * could otherwise hand back a connection another caller now holds.
   */
  release(options?: ReleaseOptions): void {
    this.entry.owner[kReleaseLease](this, options);
  }

  /** Releases the lease unless it already was; for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    if (!this.released) this.release();
    return Promise.resolve();
  }
}
