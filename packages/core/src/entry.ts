import type { ConnectionInfo } from "./connector.js";
import { Deadline } from "./deadline.js";
import type { Lease, LeaseOwner } from "./lease.js";
import { kLeaseOverdue } from "./lease.js";

/**
 * Where a pooled connection is in its life. Changed only through {@link ConnectionBag.transition},
 * which rejects illegal moves.
 *
 * - `idle`: in the idle stack, free to lend;
 * - `validating`: taken off the stack for a pre-ping (no one else can lend it meanwhile);
 * - `leased`: held by a borrower;
 * - `releasing`: back from a borrower, the connector is cleaning the session;
 * - `destroyed`: closed or being closed, never lent again.
 */
export type EntryState = "idle" | "validating" | "leased" | "releasing" | "destroyed";

/** Why a connection was closed: the `reason` of destroy events and eviction metrics. */
export type DestroyReason =
  | "broken" // the connector saw the connection dead (socket ended, fatal error)
  | "ping-failed" // pre-ping failed or timed out
  | "error" // released with an error classified as a connection error
  | "released-destroy" // the borrower asked for it: release({ destroy: true })
  | "reset-failed" // the connector could not clean the session
  | "lifetime" // reached maxLifetimeSeconds
  | "idle" // idle longer than idleTimeoutMillis, above min
  | "max-uses" // served maxUses leases
  | "evicted" // evict() or failure eviction of an older connection
  | "shutdown"; // the pool closed

export const destroyReasons: readonly DestroyReason[] = [
  "broken",
  "ping-failed",
  "error",
  "released-destroy",
  "reset-failed",
  "lifetime",
  "idle",
  "max-uses",
  "evicted",
  "shutdown",
];

/**
 * The per-connection record: everything the pool knows about one connection. It is also the
 * current lease's leak watch in the scheduler (a lease is short-lived; the entry holds the state
 * that would otherwise be allocated per borrow).
 * @internal
 */
export class PoolEntry<C> extends Deadline implements ConnectionInfo {
  readonly owner: LeaseOwner<C>;
  readonly id: number;
  readonly connection: C;
  readonly createdAt: number;
  /**
   * Lifetime end (jitter applied), capped by the connector's `expiresAt` and lowered by a spread
   * `evict()`; Infinity when nothing limits it.
   */
  expiresAt: number;
  /** Why it retires at `expiresAt`: `lifetime`, or `evicted` when a spread eviction set it. */
  expiryReason: DestroyReason = "lifetime";
  state: EntryState = "idle";
  uses = 0;
  /** Last time the connection was proven good: created, pinged, or returned healthy. */
  lastUsedAt: number;
  /** When it last went idle. */
  idleSince: number;
  /** Set when something suggests it may be dead: the next lend must ping it. */
  needsPing = false;
  /** Soft eviction: destroy when it comes back instead of lending it again. */
  evictReason: DestroyReason | undefined = undefined;
  /** The borrower's lease while leased. */
  lease: Lease<C> | undefined = undefined;
  /** Captured at acquire when leak detection is on; formatted only if read. */
  acquireError: Error | undefined = undefined;
  /** When the current lease was handed out, on the pool's clock. */
  leasedAt = 0;
  /** The current lease was reported as leaked. */
  leaked = false;
  /** The lease a forced close() took back: releasing it late is allowed (and does nothing). */
  revokedLease: Lease<C> | undefined = undefined;

  constructor(
    owner: LeaseOwner<C>,
    id: number,
    connection: C,
    createdAt: number,
    expiresAt: number,
  ) {
    super();
    this.owner = owner;
    this.id = id;
    this.connection = connection;
    this.createdAt = createdAt;
    this.expiresAt = expiresAt;
    this.lastUsedAt = createdAt;
    this.idleSince = createdAt;
  }

  get acquireStack(): string | undefined {
    return this.acquireError?.stack;
  }

  /** The leak watch fired. */
  onDue(now: number): void {
    this.owner[kLeaseOverdue](this, now);
  }
}
