import type { PoolEntry } from "./entry.js";
import type { Timed } from "./scheduler.js";

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

/** What a lease needs from its pool. @internal */
export interface LeaseOwner<C> {
  releaseLease(lease: Lease<C>, options: ReleaseOptions | undefined): void;
  leaseOverdue(lease: Lease<C>, now: number): void;
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
export class Lease<C> implements Timed, AsyncDisposable {
  /** The raw connection, exactly as the connector opened it. */
  readonly connection: C;
  /** @internal */
  readonly entry: PoolEntry<C>;
  /** @internal when it was handed out, on the pool's clock */
  readonly leasedAt: number;
  /** @internal set once the leak detector has reported it */
  leaked = false;
  /** @internal set when close() took the connection back by force */
  revoked = false;
  /** @internal leak watch */
  dueAt = 0;
  /** @internal leak watch */
  heapIndex = -1;
  readonly #owner: LeaseOwner<C>;

  /** @internal */
  constructor(owner: LeaseOwner<C>, entry: PoolEntry<C>, leasedAt: number) {
    this.#owner = owner;
    this.entry = entry;
    this.connection = entry.connection;
    this.leasedAt = leasedAt;
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
    this.#owner.releaseLease(this, options);
  }

  /** Releases the lease unless it already was; for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    if (!this.released) this.release();
    return Promise.resolve();
  }

  /** @internal leak watch fired */
  onDue(now: number): void {
    this.#owner.leaseOverdue(this, now);
  }
}
