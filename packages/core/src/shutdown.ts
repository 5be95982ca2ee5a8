import type { ConnectionBag } from "./bag.js";
import type { Clock } from "./clock.js";
import type { ConnectGate } from "./connect-gate.js";
import type { DestroyReason, PoolEntry } from "./entry.js";
import { PoolClosedError } from "./errors.js";
import type { LeakDetector } from "./leak-detector.js";
import type { PrePing } from "./pre-ping.js";
import type { Scheduler } from "./scheduler.js";
import type { PoolState } from "./stats.js";
import type { Waiter } from "./waiter.js";
import type { WaiterQueue } from "./waiter-queue.js";

/** A lease still out when `close()` stopped waiting for it. */
export interface OutstandingLease {
  readonly connectionId: number;
  readonly heldMillis: number;
  /** Where it was acquired, when leak detection is on. */
  readonly acquireStack: string | undefined;
}

/** What `close()` found. */
export interface CloseReport {
  /** True when leases were still out at the deadline and their connections were closed anyway. */
  readonly forced: boolean;
  readonly leasesOutstanding: readonly OutstandingLease[];
}

/** The pool's parts the close sequence works on. @internal */
export interface ShutdownParts<C> {
  readonly name: string;
  readonly bag: ConnectionBag<C>;
  readonly waiters: WaiterQueue<Waiter<C>>;
  readonly gate: ConnectGate;
  readonly scheduler: Scheduler;
  readonly prePing: PrePing<C>;
  readonly leaks: LeakDetector;
  /** The injected clock: the close deadline is a plain (ref'd) timer on it. */
  readonly clock: Clock;
  /** The pool's reading of time. */
  readonly now: () => number;
  /** Aborted when close() stops waiting: the signal of release/destroy contexts. */
  readonly closeController: AbortController;
}

/** What the close sequence asks of the pool. @internal */
export interface ShutdownHost<C> {
  setState(state: PoolState): void;
  /** Off the process's pool list, its housekeeping, retry and idle timers stopped. */
  withdraw(): void;
  turnAway(waiter: Waiter<C>, error: Error): void;
  destroy(entry: PoolEntry<C>, reason: DestroyReason): void;
  /** `warmup()` callers still waiting. */
  rejectWarmups(error: Error): void;
  published(report: CloseReport): void;
}

/**
 * The close sequence: stop handing out connections, turn away every waiter, close what is idle,
 * wait up to `timeoutMillis` for leases to come back and connects to finish, then take back the
 * leases still out, close the rest, wait for every connector `destroy`, and report. Also keeps
 * the destroys in flight (they never reject), so that last wait is possible.
 * @internal
 */
export class Shutdown<C> {
  /** The one close in progress or done: `close()` is idempotent. */
  closing: Promise<CloseReport> | undefined = undefined;
  private drained: (() => void) | undefined = undefined;
  private readonly destroying = new Set<Promise<void>>();
  private readonly parts: ShutdownParts<C>;
  private readonly host: ShutdownHost<C>;

  constructor(parts: ShutdownParts<C>, host: ShutdownHost<C>) {
    this.parts = parts;
    this.host = host;
  }

  /** Keeps a connector `destroy` (which never rejects) so the close can wait for it. */
  track(destroying: Promise<void>): void {
    const set = this.destroying;
    set.add(destroying);
    void destroying.then(() => set.delete(destroying));
  }

  /** A connection closed or a connect ended while closing: the wait may be over. */
  checkDrained(): void {
    const drained = this.drained;
    const { bag, gate } = this.parts;
    if (drained !== undefined && bag.size === 0 && gate.attempts.size === 0) {
      this.drained = undefined;
      drained();
    }
  }

  async run(timeoutMillis: number): Promise<CloseReport> {
    const { bag, waiters, gate, scheduler, prePing, clock } = this.parts;
    const host = this.host;
    host.setState("closing");
    host.withdraw();
    const closed = new PoolClosedError(this.parts.name);
    for (const waiter of waiters.drain()) host.turnAway(waiter, closed);
    // pre-pings in flight: their waiters are turned away, so the round trips are pointless
    for (const check of prePing.abortAll(closed)) {
      if (!check.waiter.settled) host.turnAway(check.waiter, closed);
      host.destroy(check.entry, "shutdown");
    }
    host.rejectWarmups(closed);
    for (const attempt of gate.attempts) attempt.controller.abort(closed);
    for (const entry of [...bag.idle]) host.destroy(entry, "shutdown");

    let outstanding: OutstandingLease[] = [];
    if (bag.size > 0 || gate.attempts.size > 0) {
      const drained = new Promise<"drained">((resolve) => {
        this.drained = () => resolve("drained");
      });
      let timer: unknown;
      const deadline = new Promise<"timeout">((resolve) => {
        // a plain (ref'd) timer: a pending close() should keep the process alive until it is done
        timer = clock.setTimeout(() => resolve("timeout"), timeoutMillis);
      });
      const outcome = await Promise.race([drained, deadline]);
      clock.clearTimeout(timer);
      if (outcome === "timeout") {
        this.parts.closeController.abort(closed);
        outstanding = this.revokeLeases();
        for (const entry of [...bag.entries()]) host.destroy(entry, "shutdown");
        for (const attempt of [...gate.attempts]) {
          gate.finish(attempt);
          scheduler.cancel(attempt);
        }
      }
    }
    while (this.destroying.size > 0) await Promise.all([...this.destroying]);
    scheduler.stop();
    host.setState("closed");
    const report: CloseReport = { forced: outstanding.length > 0, leasesOutstanding: outstanding };
    host.published(report);
    return report;
  }

  /** Takes back the leases still out at the deadline (a late release is then ignored). */
  private revokeLeases(): OutstandingLease[] {
    const { bag, leaks } = this.parts;
    const now = this.parts.now();
    const outstanding: OutstandingLease[] = [];
    for (const entry of bag.entries()) {
      const lease = entry.lease;
      if (lease === undefined) continue;
      outstanding.push({
        connectionId: entry.id,
        heldMillis: now - entry.leasedAt,
        acquireStack: entry.acquireStack,
      });
      entry.revokedLease = lease;
      entry.lease = undefined;
      leaks.unwatch(entry as PoolEntry<unknown>, now);
    }
    return outstanding;
  }
}
