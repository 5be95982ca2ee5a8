import type { ConnectionBag } from "./bag.js";
import type { ConnectGate } from "./connect-gate.js";
import type { DestroyReason } from "./entry.js";
import { destroyReasons } from "./entry.js";

export type PoolState = "open" | "closing" | "closed";

/** Running totals since the pool was created. */
export interface PoolCounters {
  readonly acquires: number;
  readonly releases: number;
  readonly timeouts: number;
  readonly aborts: number;
  readonly queueFull: number;
  /** Acquires that failed fast with `DatabaseUnavailableError`. */
  readonly unavailable: number;
  readonly creates: number;
  readonly createErrors: number;
  readonly destroys: Readonly<Record<DestroyReason, number>>;
  readonly prePings: {
    readonly ok: number;
    readonly failed: number;
    readonly timeout: number;
    /** Borrows that skipped the round trip: used within the bypass window. */
    readonly bypassed: number;
  };
  readonly leaks: number;
  readonly clockLeaps: number;
}

/** An immutable snapshot of a pool. */
export interface PoolStats {
  readonly name: string;
  readonly state: PoolState;
  /** Open connections (idle + used). */
  readonly total: number;
  /** Connections ready to lend. */
  readonly idle: number;
  /** Open connections that are not idle: leased, being pinged, or being cleaned after release. */
  readonly used: number;
  readonly leased: number;
  readonly validating: number;
  readonly releasing: number;
  /** Connections being opened. */
  readonly creating: number;
  /** Connections out with a borrower that will close when returned (past their lifetime, or evicted). */
  readonly expiring: number;
  /** Callers waiting for a connection. */
  readonly pending: number;
  readonly min: number;
  readonly max: number;
  /** `open` while no connection can be made and none is open: acquires fail fast. */
  readonly circuit: "closed" | "open";
  readonly counters: PoolCounters;
  /** Counters the connector keeps (for PostgreSQL: resets, rollbacks, ...). */
  readonly connector: Readonly<Record<string, number>>;
}

/** The pool's mutable counters. @internal */
export class Counters {
  acquires = 0;
  releases = 0;
  timeouts = 0;
  aborts = 0;
  queueFull = 0;
  unavailable = 0;
  creates = 0;
  createErrors = 0;
  readonly destroys: Record<DestroyReason, number> = Object.fromEntries(
    destroyReasons.map((reason) => [reason, 0]),
  ) as Record<DestroyReason, number>;
  pingOk = 0;
  pingFailed = 0;
  pingTimeout = 0;
  pingBypassed = 0;
  leaks = 0;
  clockLeaps = 0;

  snapshot(): PoolCounters {
    return {
      acquires: this.acquires,
      releases: this.releases,
      timeouts: this.timeouts,
      aborts: this.aborts,
      queueFull: this.queueFull,
      unavailable: this.unavailable,
      creates: this.creates,
      createErrors: this.createErrors,
      destroys: { ...this.destroys },
      prePings: {
        ok: this.pingOk,
        failed: this.pingFailed,
        timeout: this.pingTimeout,
        bypassed: this.pingBypassed,
      },
      leaks: this.leaks,
      clockLeaps: this.clockLeaps,
    };
  }
}

/** What a pool hands {@link poolSnapshot}: its parts, read as they are now. @internal */
export interface SnapshotSource<C> {
  readonly name: string;
  readonly state: PoolState;
  readonly bag: ConnectionBag<C>;
  readonly gate: ConnectGate;
  readonly counters: Counters;
  /** Callers waiting: queued, plus those whose connection is being pinged. */
  readonly pending: number;
  readonly min: number;
  readonly max: number;
  /** The connector's own counters, if it keeps any. */
  readonly connector: Readonly<Record<string, number>> | undefined;
  readonly now: number;
}

/** Assembles the immutable {@link PoolStats} of `pool.stats()`. @internal */
export function poolSnapshot<C>(source: SnapshotSource<C>): PoolStats {
  const { bag, now } = source;
  const idle = bag.count("idle");
  const total = bag.size;
  let expiring = 0;
  for (const entry of bag.entries()) {
    if (entry.state !== "idle" && (entry.evictReason !== undefined || now >= entry.expiresAt))
      expiring++;
  }
  return {
    name: source.name,
    state: source.state,
    total,
    idle,
    used: total - idle,
    leased: bag.count("leased"),
    validating: bag.count("validating"),
    releasing: bag.count("releasing"),
    creating: source.gate.attempts.size,
    expiring,
    pending: source.pending,
    min: source.min,
    max: source.max,
    circuit: source.gate.circuitOpen ? "open" : "closed",
    counters: source.counters.snapshot(),
    // a copy: a connector may hand out its live counters object
    connector: { ...source.connector },
  };
}
