import type { ConnectionInfo } from "./connector.js";
import type { Lease } from "./lease.js";

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

/** The per-connection record: everything the pool knows about one connection. @internal */
export class PoolEntry<C> implements ConnectionInfo {
  readonly id: number;
  readonly connection: C;
  readonly createdAt: number;
  /** Lifetime end (jitter applied); Infinity when maxLifetimeSeconds is 0. */
  readonly expiresAt: number;
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

  constructor(id: number, connection: C, createdAt: number, expiresAt: number) {
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
}
