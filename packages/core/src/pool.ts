import { setMaxListeners } from "node:events";
import { ConnectionBag } from "./bag.js";
import type { AcquireOptions, EvictOptions } from "./call-options.js";
import { acquireTimeout, closeTimeout, evictAge, evictSpread } from "./call-options.js";
import type { Clock } from "./clock.js";
import { systemClock, turnClock } from "./clock.js";
import { ConnectAttempt, ConnectGate, type LostSlot } from "./connect-gate.js";
import type { ConnectContext, ConnectorContext, ReleaseDecision } from "./connector.js";
import { Timer } from "./deadline.js";
import type { DestroyReason } from "./entry.js";
import { PoolEntry } from "./entry.js";
import {
  AcquireAbortedError,
  AcquireTimeoutError,
  ConnectTimeoutError,
  DatabaseUnavailableError,
  LeaseReleasedError,
  PoolClosedError,
  PoolQueueFullError,
} from "./errors.js";
import { GuardedConnector } from "./guarded-connector.js";
import { Housekeeper } from "./housekeeper.js";
import { LeakDetector } from "./leak-detector.js";
import type { LeaseOwner, ReleaseOptions } from "./lease.js";
import { kLeaseOverdue, kReleaseLease, Lease } from "./lease.js";
import type { PoolOptions, ResolvedOptions } from "./options.js";
import { resolveOptions } from "./options.js";
import type { PingCheck } from "./ping-check.js";
import {
  publishAcquire,
  publishAcquireFailed,
  publishCircuitClose,
  publishCircuitOpen,
  publishClockLeap,
  publishCreate,
  publishCreateError,
  publishDestroy,
  publishPoolClose,
  publishPoolCreate,
  publishRelease,
} from "./pool-events.js";
import type { PingResult } from "./pre-ping.js";
import { PrePing } from "./pre-ping.js";
import { trackPool, untrackPool } from "./registry.js";
import {
  expiryFor,
  idleExpiredCount,
  retireReason,
  spreadExpiry,
  sweepReason,
  unusableReason,
} from "./retirement.js";
import { Scheduler } from "./scheduler.js";
import type { ServerStats } from "./server-stats.js";
import { serverSnapshot } from "./server-stats.js";
import type { CloseReport } from "./shutdown.js";
import { Shutdown } from "./shutdown.js";
import type { PoolState, PoolStats } from "./stats.js";
import { Counters, poolSnapshot } from "./stats.js";
import type { Waiter, WaiterOwner } from "./waiter.js";
import { kWaiterDue, WaiterRecords, waiterPromise } from "./waiter.js";
import { WaiterQueue } from "./waiter-queue.js";

export type { AcquireOptions, EvictOptions } from "./call-options.js";
export type { CloseReport, OutstandingLease } from "./shutdown.js";

/**
 * A connection pool over any {@link Connector}. Create it with {@link createPool}. This class is
 * orchestration only: it routes events (acquire, release, connect, ping, timers) to its parts and
 * acts on what they decide. The parts: connect-gate.ts (when to open), retirement.ts (when to
 * close), pre-ping.ts (when and how to ping before lending), waiter.ts/waiter-queue.ts (who
 * waits), bag.ts (where connections are), guarded-connector.ts (how the connector is called),
 * shutdown.ts (the close sequence), pool-events.ts (what is published), stats.ts (the snapshot).
 * docs/architecture.md walks through the life of an acquire and of a connection.
 *
 * Invariants, kept by `pump` (the one place connections are handed out or opened):
 * - a caller never receives a connection the pool knows to be dead;
 * - open + opening connections never exceed `max`;
 * - waiters are served in arrival order; idle connections are reused most-recent first;
 * - nothing is handed out twice: an entry is `leased` to at most one lease at a time.
 *
 * Fields are ordinary (TypeScript `private`), not `#private`: V8 stores `#` fields as keyed
 * properties, and a class with more than a dozen of them falls into dictionary mode once its
 * in-object slack is reclaimed (after the 7th instance, when earlier ones were collected), which
 * made every pool built after that about half as fast.
 */
export class Pool<C> implements AsyncDisposable {
  /** Tells pools apart in metrics, events and errors. */
  readonly name: string;
  private readonly o: ResolvedOptions<C>;
  private readonly connector: GuardedConnector<C>;
  /** Where the pool reads time: the system clock's reading is shared within an event-loop turn. */
  private readonly clock: Clock;
  private readonly bag = new ConnectionBag<C>();
  private readonly waiters = new WaiterQueue<Waiter<C>>();
  /** Waiter records for reuse: a caller that waits allocates only its promise. */
  private readonly records: WaiterRecords<C>;
  private readonly scheduler: Scheduler;
  private readonly gate: ConnectGate;
  private readonly counters = new Counters();
  private readonly prePing: PrePing<C>;
  /** Leak detection is on: capture stacks and watch leases (skipped entirely when off). */
  private readonly leakOn: boolean;
  private lifecycle: PoolState = "open";
  private pumping = false;
  private pumpAgain = false;
  private nextId = 1;

  /** Everything not touched on the acquire/release path. */
  private readonly cold: ColdState<C>;

  constructor(options: PoolOptions<C>) {
    const o = resolveOptions(options);
    this.o = o;
    this.name = o.name;
    this.connector = new GuardedConnector(o.connector);
    this.clock = o.clock === systemClock ? turnClock : o.clock;
    this.scheduler = new Scheduler(o.clock);
    this.gate = new ConnectGate(o.random);
    this.records = new WaiterRecords(this as WaiterOwner<C>);
    this.leakOn = o.leakDetectionThresholdMillis > 0;
    const closeController = new AbortController();
    // every release, ping and close in flight listens on it (one per connection at most): more
    // than EventTarget's default 10 is the pool working, not a leak
    setMaxListeners(0, closeController.signal);
    const context: ConnectorContext = {
      signal: closeController.signal,
      clock: o.clock,
      poolName: o.name,
    };
    this.prePing = new PrePing(
      o.prePing,
      this,
      this.connector,
      this.scheduler,
      this.clock,
      this.counters,
      context,
      (check, result, now) => this.pinged(check, result, now),
    );
    const leaks = new LeakDetector(o.leakDetectionThresholdMillis, this.scheduler, this);
    this.cold = {
      retry: new Timer(() => this.pump()),
      queueDeadline: new Timer((now) => this.expireQueued(now)),
      idleDeadline: new Timer((now) => this.expireIdle(now)),
      leaks,
      housekeeper: new Housekeeper(this.scheduler, {
        onClockLeap: (late) => this.onClockLeap(late),
        sweep: (now) => this.sweep(now),
        leapAt: (at) => {
          this.prePing.leapAt = at;
        },
      }),
      shutdown: new Shutdown<C>(
        {
          name: o.name,
          bag: this.bag,
          waiters: this.waiters,
          gate: this.gate,
          scheduler: this.scheduler,
          prePing: this.prePing,
          leaks,
          clock: o.clock,
          now: () => this.clock.now(),
          closeController,
        },
        {
          setState: (state) => {
            this.lifecycle = state;
          },
          withdraw: () => this.withdraw(),
          turnAway: (waiter, error) => this.turnAway(waiter, error),
          destroy: (entry, reason) => this.destroy(entry, reason),
          rejectWarmups: (error) => this.rejectWarmups(error),
          published: (report) =>
            publishPoolClose(this, report.forced, report.leasesOutstanding.length),
        },
      ),
      warmups: [],
      context,
      minFillHeld: false,
    };
    this.cold.housekeeper.start(this.clock.now());
    trackPool(this);
    publishPoolCreate(this);
    this.pump();
  }

  /** `open`, `closing` (waiting for leases to come back) or `closed`. */
  get state(): PoolState {
    return this.lifecycle;
  }

  /**
   * Borrows a connection. Resolves at once when one is idle and known good; otherwise waits in
   * FIFO order until one is returned or opened, up to the deadline.
   *
   * Rejects with `AcquireTimeoutError` at the deadline, `AcquireAbortedError` when `signal`
   * aborts, `PoolQueueFullError` when the pool is at `max` and `maxWaiting` callers already wait,
   * `DatabaseUnavailableError` at once while no connection can be opened, and `PoolClosedError`
   * after `close()`.
   */
  acquire(options?: AcquireOptions): Promise<Lease<C>> {
    if (this.lifecycle !== "open") return Promise.reject(new PoolClosedError(this.name));
    const signal = options?.signal;
    if (signal?.aborted === true) {
      this.counters.aborts++;
      return Promise.reject(new AcquireAbortedError(this.name, signal.reason));
    }
    let timeoutMillis = this.o.acquireTimeoutMillis;
    if (options?.timeoutMillis !== undefined) {
      try {
        timeoutMillis = acquireTimeout(options.timeoutMillis);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const acquireError = this.leakOn ? this.cold.leaks.capture() : undefined;
    const now = this.clock.now();

    // fast path: nobody is waiting ahead of us and a good connection is idle
    if (this.waiters.live === 0) {
      const entry = this.takeReadyIdle(now);
      if (entry !== undefined) return Promise.resolve(this.grant(entry, now, now, acquireError));
    }

    // the queue is the callers beyond what the free slots (open or opening) can serve
    if (this.waiters.live - (this.o.max - this.bag.size) >= this.o.maxWaiting) {
      this.counters.queueFull++;
      const error = new PoolQueueFullError(this.name, this.o.maxWaiting);
      publishAcquireFailed("queueFull", this, 0, error);
      return Promise.reject(error);
    }
    if (this.gate.circuitOpen && this.bag.idle.length === 0) {
      return Promise.reject(this.unavailable(now, 0));
    }

    const promise = waiterPromise<C>();
    const dueAt = now + timeoutMillis;
    const waiter = this.records.take(dueAt, timeoutMillis, acquireError, signal);
    this.waiters.push(waiter);
    if (timeoutMillis === this.o.acquireTimeoutMillis) {
      const queueDeadline = this.cold.queueDeadline;
      if (queueDeadline.heapIndex === -1) this.scheduler.schedule(queueDeadline, dueAt);
    } else {
      waiter.ownDeadline = true;
      this.scheduler.schedule(waiter, dueAt);
    }
    if (signal !== undefined) {
      waiter.onAbort = () => this[kWaiterDue](waiter, this.clock.now(), "abort");
      signal.addEventListener("abort", waiter.onAbort, { once: true });
    }
    this.pump();
    return promise;
  }

  /**
   * Runs `fn` with a borrowed connection and releases it afterwards, passing any error to the
   * connector's classification (a connection error retires the connection).
   */
  async use<T>(fn: (connection: C) => T | Promise<T>, options?: AcquireOptions): Promise<T> {
    const lease = await this.acquire(options);
    let result: T;
    try {
      result = await fn(lease.connection);
    } catch (error) {
      if (!lease.released) lease.release({ error });
      throw error;
    }
    if (!lease.released) lease.release();
    return result;
  }

  /** Resolves once `min` connections are open; rejects with the connect error if one fails. */
  warmup(): Promise<void> {
    if (this.lifecycle !== "open") return Promise.reject(new PoolClosedError(this.name));
    if (this.bag.size >= this.o.min) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.cold.warmups.push({ resolve, reject });
      this.pump();
    });
  }

  /**
   * Soft-evicts connections at least `olderThan` milliseconds old (all when omitted): idle ones
   * close now, busy ones when released. Replacements are opened as needed to keep `min`.
   * With `spreadMillis`, each one instead retires at a random moment within that window (an idle
   * one at the housekeeping tick after it, or when it would be lent; a busy one when it comes
   * back after it), so they are not all replaced at once. Returns how many connections were
   * evicted or marked.
   */
  evict(options?: EvictOptions): number {
    const now = this.clock.now();
    const cutoff = now - evictAge(options);
    const spread = evictSpread(options);
    if (spread > 0) {
      let marked = 0;
      for (const entry of this.bag.entries()) {
        if (entry.createdAt > cutoff || entry.evictReason !== undefined) continue;
        if (entry.state === "destroyed") continue;
        if (spreadExpiry(entry as PoolEntry<unknown>, spread, this.o.random, now)) marked++;
      }
      return marked;
    }
    const marked = this.softEvict((entry) => entry.createdAt <= cutoff);
    this.pump();
    return marked;
  }

  /**
   * The pool's open connections by server, for a connector that spreads them over several servers
   * (cluster mode): each server as the connector knows it (role, lag, failed connects) with this
   * pool's idle and used connections to it, which add up to `stats()`'s. Empty for a connector on
   * one server. Computed at the call (a metrics collection), never on the acquire path.
   */
  servers(): ServerStats[] {
    return serverSnapshot(this.connector, this.bag);
  }

  /** An immutable snapshot of the pool's state and counters. */
  stats(): PoolStats {
    return poolSnapshot({
      name: this.name,
      state: this.lifecycle,
      bag: this.bag,
      gate: this.gate,
      counters: this.counters,
      pending: this.waiters.live + this.prePing.waiting(),
      min: this.o.min,
      max: this.o.max,
      connector: this.connector.stats(),
      now: this.clock.now(),
    });
  }

  /**
   * Stops handing out connections: rejects waiters with `PoolClosedError`, closes idle
   * connections, waits up to `timeoutMillis` (default `shutdownTimeoutMillis`) for leases to come
   * back, then closes the rest and reports which leases were still out. Idempotent.
   */
  close(options?: { timeoutMillis?: number }): Promise<CloseReport> {
    const shutdown = this.cold.shutdown;
    if (shutdown.closing === undefined) {
      let timeoutMillis: number;
      try {
        timeoutMillis = closeTimeout(options, this.o.shutdownTimeoutMillis);
      } catch (error) {
        return Promise.reject(error);
      }
      shutdown.closing = shutdown.run(timeoutMillis);
    }
    return shutdown.closing;
  }

  /** Closes the pool; for `await using pool = createPool(...)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---------------------------------------------------------------------------------------------
  // lease and waiter callbacks (keyed by module-private symbols)

  /** @internal */
  [kReleaseLease](lease: Lease<C>, options: ReleaseOptions | undefined): void {
    const entry = lease.entry;
    if (entry.lease !== lease) {
      if (entry.revokedLease === lease) return; // close() already took it back; late is fine
      throw new LeaseReleasedError(this.name);
    }
    entry.lease = undefined;
    // entry.acquireError stays until the connection is back in the pool: the leak report and the
    // connector's clean-up (which may name the borrower in its events) still read the stack
    const now = this.clock.now();
    if (this.leakOn) this.cold.leaks.unwatch(entry as PoolEntry<unknown>, now);
    this.counters.releases++;
    publishRelease(this, entry.id, now - entry.leasedAt);

    const reason = this.returnReason(entry, options, now);
    if (reason !== undefined) {
      this.destroy(entry, reason);
      this.pump();
      return;
    }
    const decision = this.connector.release(entry.connection, entry, this.cold.context);
    if (decision === "keep") {
      this.checkIn(entry, now);
    } else if (decision === "destroy") {
      this.destroy(entry, "reset-failed");
      this.pump();
    } else {
      this.bag.transition(entry, "releasing");
      void decision.then((result) => this.cleaned(entry, result));
    }
  }

  /** @internal */
  [kLeaseOverdue](entry: PoolEntry<C>, now: number): void {
    if (entry.lease === undefined) return;
    this.counters.leaks++;
    this.cold.leaks.report(entry as PoolEntry<unknown>, now);
  }

  /**
   * A waiter reached its deadline or its signal aborted; a ping in progress for it carries on.
   * @internal
   */
  [kWaiterDue](waiter: Waiter<C>, now: number, why: "timeout" | "abort"): void {
    if (waiter.state === "settled") return;
    // the snapshot in the error shows the pool as the caller saw it: still waiting
    const stats = why === "timeout" ? this.stats() : undefined;
    const wasQueued = waiter.state === "queued";
    waiter.settle(this.scheduler);
    if (wasQueued) this.waiters.noteSettled();
    const waited = now - waiter.startedAt;
    let error: Error;
    if (why === "abort") {
      this.counters.aborts++;
      error = new AcquireAbortedError(this.name, waiter.signal?.reason);
    } else {
      this.counters.timeouts++;
      const cause = this.gate.failures > 0 ? this.gate.lastError : undefined;
      error = new AcquireTimeoutError(waited, stats as PoolStats, cause);
      publishAcquireFailed("acquireTimeout", this, waited, error);
    }
    (waiter.reject as (error: Error) => void)(error);
  }

  // ---------------------------------------------------------------------------------------------
  // the pump

  /**
   * The one place connections are handed to waiters and new connections are opened. Every event
   * (acquire, release, connect, destroy, timer) ends here. Re-entrant calls are folded into the
   * running one.
   */
  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    if (this.nothingToDo()) return;
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        if (this.lifecycle !== "open") return;
        const now = this.clock.now();
        this.lendIdle(now);
        this.fill(now);
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Nothing to lend and nothing to open, decided without reading the clock: the common case when
   * a caller queues behind a busy pool.
   */
  private nothingToDo(): boolean {
    if (this.gate.circuitOpen) return false;
    const open = this.bag.size + this.gate.attempts.size;
    if (this.waiters.live === 0) return open >= this.o.min;
    return this.bag.idle.length === 0 && open >= this.o.max;
  }

  /** Hands idle connections to waiters, oldest waiter first; pings the ones that need it. */
  private lendIdle(now: number): void {
    // thawed before the tick ran: every idle connection gets its ping before anyone borrows it
    // (the fast path declines to lend then: PrePing.needed compares the same reading)
    if (now >= this.prePing.leapAt) this.cold.housekeeper.runLate(now);
    while (this.waiters.live > 0 && this.bag.idle.length > 0) {
      const entry = this.bag.idle[this.bag.idle.length - 1] as PoolEntry<C>;
      const reason = this.unusable(entry, now);
      if (reason !== undefined) {
        this.destroy(entry, reason);
        continue;
      }
      const waiter = this.waiters.shift() as Waiter<C>;
      waiter.state = "matched";
      if (this.prePing.needed(entry, now)) {
        // out of the queue, the waiter's deadline can no longer ride on the queue's
        if (!waiter.ownDeadline) {
          waiter.ownDeadline = true;
          this.scheduler.schedule(waiter, waiter.dueAt);
        }
        this.bag.popIdle("validating");
        this.prePing.start(entry, waiter, now);
      } else {
        this.bag.popIdle("leased");
        this.handOver(entry, waiter, now);
      }
    }
  }

  /** Opens connections for the waiters left and to keep `min`, as the connect gate plans. */
  private fill(now: number): void {
    const bag = this.bag;
    const count = this.gate.plan(
      this.waiters.live,
      bag.size,
      bag.count("releasing"),
      this.o.min,
      this.o.max,
      this.cold.minFillHeld,
      now,
    );
    if (count === -1) {
      const retry = this.cold.retry;
      if (retry.heapIndex === -1) this.scheduler.schedule(retry, this.gate.nextAttemptAt);
      return;
    }
    for (let i = 0; i < count; i++) this.openConnection(now);
  }

  // ---------------------------------------------------------------------------------------------
  // lending

  /** The top idle connection when it can be lent without a ping; retires dead ones on the way. */
  private takeReadyIdle(now: number): PoolEntry<C> | undefined {
    const idle = this.bag.idle;
    while (idle.length > 0) {
      const entry = idle[idle.length - 1] as PoolEntry<C>;
      const reason = this.unusable(entry, now);
      if (reason !== undefined) {
        this.destroy(entry, reason);
        continue;
      }
      if (this.prePing.needed(entry, now)) return undefined;
      this.bag.popIdle("leased");
      return entry;
    }
    return undefined;
  }

  /** Why an idle connection must not be lent, if it must not (the free local check). */
  private unusable(entry: PoolEntry<C>, now: number): DestroyReason | undefined {
    return unusableReason(entry, this.connector.isBroken(entry.connection), now);
  }

  private grant(
    entry: PoolEntry<C>,
    now: number,
    startedAt: number,
    acquireError: Error | undefined,
  ): Lease<C> {
    entry.uses++;
    entry.acquireError = acquireError;
    entry.leasedAt = now;
    const lease = new Lease(entry);
    entry.lease = lease;
    if (this.leakOn) this.cold.leaks.watch(entry as PoolEntry<unknown>, now);
    this.counters.acquires++;
    publishAcquire(this, entry.id, now - startedAt);
    return lease;
  }

  /** Gives a `leased` entry to a waiter; its record is then free for the next caller. */
  private handOver(entry: PoolEntry<C>, waiter: Waiter<C>, now: number): void {
    waiter.settle(this.scheduler);
    const resolve = waiter.resolve as (lease: Lease<C>) => void;
    const lease = this.grant(entry, now, waiter.startedAt, waiter.acquireError);
    this.records.give(waiter);
    resolve(lease);
  }

  /** Rejects a waiter that is queued or matched. */
  private turnAway(waiter: Waiter<C>, error: Error): void {
    waiter.settle(this.scheduler);
    (waiter.reject as (error: Error) => void)(error);
  }

  /** A pre-ping finished (counted and published): the connection is lent, kept or closed. */
  private pinged(check: PingCheck<C>, result: PingResult, now: number): void {
    const { entry, waiter } = check;
    if (entry.state !== "validating") return; // close() destroyed it meanwhile
    // the ping proves the server answers; the free checks may still say otherwise by now
    const reason = result === "ok" ? this.unusable(entry, now) : "ping-failed";
    if (reason === undefined) {
      entry.lastUsedAt = now;
      entry.needsPing = false;
      if (!waiter.settled) {
        this.bag.transition(entry, "leased");
        this.handOver(entry, waiter, now);
      } else {
        // its waiter gave up meanwhile: the connection goes back to the pool, never leaks
        this.checkIn(entry, now);
      }
    } else {
      this.destroy(entry, reason);
      if (reason === "ping-failed") this.suspectOlderThan(entry);
      if (!waiter.settled) {
        // try another connection inside the same deadline, ahead of everyone who came later
        waiter.state = "queued";
        this.waiters.unshift(waiter);
      }
    }
    this.pump();
  }

  /**
   * The queue's deadline fired: time out every default-timeout waiter that is due, oldest first,
   * then wait for the next one. (It also fires early when the waiter it was set for was served.)
   */
  private expireQueued(now: number): void {
    let next = Number.POSITIVE_INFINITY;
    this.waiters.walk((waiter) => {
      if (waiter.ownDeadline) return true;
      if (waiter.dueAt <= now) {
        this[kWaiterDue](waiter, now, "timeout");
        return true;
      }
      next = waiter.dueAt;
      return false;
    });
    if (next !== Number.POSITIVE_INFINITY) this.scheduler.schedule(this.cold.queueDeadline, next);
  }

  // ---------------------------------------------------------------------------------------------
  // returning

  /** Why a connection coming back must be closed, with the side effects its reason implies. */
  private returnReason(
    entry: PoolEntry<C>,
    options: ReleaseOptions | undefined,
    now: number,
  ): DestroyReason | undefined {
    const errorClass =
      options?.error === undefined ? undefined : this.connector.classify(options.error);
    const open = this.lifecycle === "open";
    const broken = open && this.connector.isBroken(entry.connection);
    const reason = retireReason(
      entry as PoolEntry<unknown>,
      open,
      options?.destroy === true,
      errorClass,
      broken,
      this.o.maxUses,
      now,
    );
    if (reason === "error" && errorClass === "connection") {
      // failover, restart: whatever was opened before this one likely shares its fate
      // (ids follow creation order, so connections opened in the same millisecond are ordered too)
      this.softEvict((other) => other.id < entry.id);
    } else if (reason === "broken") {
      this.suspectOlderThan(entry);
    }
    return reason;
  }

  /** Idle connections opened before `entry` sat through what killed it: ping them before lending. */
  private suspectOlderThan(entry: PoolEntry<C>): void {
    for (const other of this.bag.idle) if (other.id < entry.id) other.needsPing = true;
  }

  /** The connector finished cleaning a session asynchronously. */
  private cleaned(entry: PoolEntry<C>, decision: ReleaseDecision): void {
    if (entry.state !== "releasing") return; // close() forced it meanwhile
    const now = this.clock.now();
    // the clean-up took time: the socket may have died, or the connection aged, evicted meanwhile
    const reason =
      this.lifecycle !== "open"
        ? "shutdown"
        : decision !== "keep"
          ? "reset-failed"
          : this.unusable(entry, now);
    if (reason === undefined) {
      this.checkIn(entry, now);
      return;
    }
    this.destroy(entry, reason);
    this.pump();
  }

  /** A healthy connection is back: straight to the first waiter, else onto the idle stack. */
  private checkIn(entry: PoolEntry<C>, now: number): void {
    entry.lastUsedAt = now;
    entry.needsPing = false;
    entry.acquireError = undefined;
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      waiter.state = "matched";
      if (entry.state !== "leased") this.bag.transition(entry, "leased");
      this.handOver(entry, waiter, now);
      return;
    }
    this.goIdle(entry, now, false);
  }

  /** Onto the idle stack, with the idle deadline armed when idle timeouts are on. */
  private goIdle(entry: PoolEntry<C>, now: number, fresh: boolean): void {
    entry.idleSince = now;
    if (fresh) this.bag.add(entry, "idle");
    else this.bag.transition(entry, "idle");
    const idleTimeout = this.o.idleTimeoutMillis;
    // one deadline for the whole stack: its bottom is the connection idle the longest
    if (idleTimeout > 0 && this.cold.idleDeadline.heapIndex === -1)
      this.scheduler.schedule(this.cold.idleDeadline, now + idleTimeout);
  }

  // ---------------------------------------------------------------------------------------------
  // opening and closing connections

  private openConnection(now: number): void {
    const timeoutMillis = this.o.acquireTimeoutMillis;
    const attempt = new ConnectAttempt(now, (a) =>
      this.connectFailed(a, new ConnectTimeoutError(this.name, timeoutMillis), true),
    );
    this.gate.begin(attempt);
    this.scheduler.schedule(attempt, now + timeoutMillis);
    const context: ConnectContext = {
      signal: attempt.controller.signal,
      clock: this.o.clock,
      poolName: this.name,
      connectionLost: this.lostReporter(attempt.slot),
    };
    this.connector.connect(context).then(
      (connection) => this.connected(attempt, connection),
      (error: unknown) => this.connectFailed(attempt, error, false),
    );
  }

  private connected(attempt: ConnectAttempt, connection: C): void {
    const shutdown = this.cold.shutdown;
    if (!this.gate.finish(attempt)) {
      // it arrived after its deadline or after close: never leak it
      shutdown.track(this.connector.destroy(connection, this.cold.context));
      return;
    }
    this.scheduler.cancel(attempt);
    const now = this.clock.now();
    if (this.lifecycle !== "open") {
      shutdown.track(this.connector.destroy(connection, this.cold.context));
      shutdown.checkDrained();
      return;
    }
    if (this.gate.succeeded()) publishCircuitClose(this);
    const entry = new PoolEntry(
      this as LeaseOwner<C>,
      this.nextId++,
      connection,
      now,
      expiryFor(
        now,
        this.o.maxLifetimeSeconds,
        this.o.lifetimeJitter,
        this.o.random,
        this.connector.expiresAt(connection, now),
      ),
    );
    attempt.slot.entry = entry as PoolEntry<unknown>;
    this.counters.creates++;
    publishCreate(this, entry.id, now - attempt.startedAt);
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      waiter.state = "matched";
      this.bag.add(entry, "leased");
      this.handOver(entry, waiter, now);
    } else {
      this.goIdle(entry, now, true);
    }
    if (this.bag.size >= this.o.min && this.cold.warmups.length > 0) {
      const warmups = this.cold.warmups;
      this.cold.warmups = [];
      for (const w of warmups) w.resolve();
    }
    this.pump();
  }

  private connectFailed(attempt: ConnectAttempt, error: unknown, timedOut: boolean): void {
    if (!this.gate.finish(attempt)) return;
    this.scheduler.cancel(attempt);
    attempt.controller.abort(error);
    const now = this.clock.now();
    if (this.lifecycle !== "open") {
      this.cold.shutdown.checkDrained();
      return;
    }
    this.counters.createErrors++;
    // the application's error (an onConnect hook that threw): not the database's availability
    const statement = !timedOut && this.connector.classify(error) === "statement";
    const retryIn = statement ? 0 : this.gate.failed(attempt, now, error);
    publishCreateError(this, now - attempt.startedAt, error, this.gate.failures, retryIn);
    this.rejectWarmups(error);
    if (statement) {
      // the caller whose connect this was gets the error; with nobody waiting, stop refilling
      // `min` until the next housekeeping tick instead of spinning on a hook that keeps failing
      const waiter = this.waiters.shift();
      if (waiter !== undefined) this.turnAway(waiter, error as Error);
      else this.cold.minFillHeld = true;
    } else {
      this.maybeOpenCircuit(now);
    }
    this.pump();
  }

  /** The `warmup()` callers fail with the connect error (or `PoolClosedError` on close). */
  private rejectWarmups(error: unknown): void {
    const warmups = this.cold.warmups;
    if (warmups.length === 0) return;
    this.cold.warmups = [];
    for (const w of warmups) w.reject(error);
  }

  /** Built in a scope of its own: the callback lives as long as the connection, the attempt does not. */
  private lostReporter(slot: LostSlot): (error?: unknown) => void {
    return () => this.connectionLost(slot);
  }

  /**
   * The connector saw a connection die on its own: an idle one leaves the pool now. It is replaced
   * on demand or at the next housekeeping tick, not at once: connections die together when the
   * server restarts, and probing it then would fail, open the circuit and turn away the first
   * callers after it is back.
   */
  private connectionLost(slot: LostSlot): void {
    const entry = slot.entry as PoolEntry<C> | undefined;
    if (entry === undefined || entry.state !== "idle") return;
    this.destroy(entry, "broken");
  }

  /** With connects failing and nothing open, waiting is pointless: fail everyone fast. */
  private maybeOpenCircuit(now: number): void {
    if (!this.gate.shouldOpenCircuit(this.bag.size)) return;
    publishCircuitOpen(this, this.gate.lastError);
    for (const waiter of this.waiters.drain()) {
      this.turnAway(waiter, this.unavailable(now, now - waiter.startedAt));
    }
  }

  private unavailable(now: number, waitedMillis: number): DatabaseUnavailableError {
    this.counters.unavailable++;
    const error = new DatabaseUnavailableError(
      this.name,
      this.gate.lastError,
      Math.max(0, this.gate.nextAttemptAt - now),
    );
    publishAcquireFailed("unavailable", this, waitedMillis, error);
    return error;
  }

  private destroy(entry: PoolEntry<C>, reason: DestroyReason): void {
    if (entry.state === "destroyed") return;
    this.bag.transition(entry, "destroyed");
    this.counters.destroys[reason]++;
    publishDestroy(this, entry.id, reason);
    const shutdown = this.cold.shutdown;
    shutdown.track(this.connector.destroy(entry.connection, this.cold.context));
    if (this.lifecycle === "open") this.maybeOpenCircuit(this.clock.now());
    else shutdown.checkDrained();
  }

  /** Idle ones close now, busy ones on return. */
  private softEvict(match: (entry: PoolEntry<C>) => boolean): number {
    let marked = 0;
    for (const entry of [...this.bag.entries()]) {
      if (!match(entry) || entry.evictReason !== undefined) continue;
      marked++;
      if (entry.state === "idle") this.destroy(entry, "evicted");
      else entry.evictReason = "evicted";
    }
    return marked;
  }

  // ---------------------------------------------------------------------------------------------
  // housekeeping and idle retirement

  private onClockLeap(lateMillis: number): void {
    this.counters.clockLeaps++;
    for (const entry of this.bag.idle) entry.needsPing = true;
    publishClockLeap(this, lateMillis);
  }

  private sweep(now: number): void {
    this.cold.minFillHeld = false;
    let open = this.bag.size;
    // bottom of the stack first: the least recently used connections retire first
    for (const entry of [...this.bag.idle]) {
      const broken = this.connector.isBroken(entry.connection);
      const reason = sweepReason(
        entry as PoolEntry<unknown>,
        broken,
        open > this.o.min,
        this.o.idleTimeoutMillis,
        now,
      );
      if (reason !== undefined) {
        this.destroy(entry, reason);
        open--;
      }
    }
    this.pump();
  }

  /**
   * The idle deadline fired: retire connections idle past `idleTimeoutMillis` above `min`, least
   * recently used first, then wait for the next one. (It fires early when the connection it was
   * set for was lent meanwhile; it then only moves on.)
   */
  private expireIdle(now: number): void {
    const idleTimeout = this.o.idleTimeoutMillis;
    const idle = this.bag.idle;
    const min = this.o.min;
    const expired = idleExpiredCount(
      idle as PoolEntry<unknown>[],
      this.bag.size,
      min,
      idleTimeout,
      now,
    );
    for (let i = 0; i < expired; i++) this.destroy(idle[0] as PoolEntry<C>, "idle");
    const oldest = idle[0];
    if (oldest !== undefined && this.bag.size > min) {
      this.scheduler.schedule(this.cold.idleDeadline, oldest.idleSince + idleTimeout);
    }
    this.pump();
  }

  /** Closing: off the process's pool list, and no more housekeeping, retries or idle expiry. */
  private withdraw(): void {
    untrackPool(this);
    this.cold.housekeeper.stop();
    this.scheduler.cancel(this.cold.retry);
    this.scheduler.cancel(this.cold.idleDeadline);
  }

  /** Keeps secrets and internals out of logs: `util.inspect(pool)` shows the snapshot only. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    const s = this.stats();
    return `Pool { name: ${JSON.stringify(s.name)}, state: ${s.state}, total: ${s.total}, idle: ${s.idle}, used: ${s.used}, pending: ${s.pending}, max: ${s.max} }`;
  }

  toJSON(): PoolStats {
    return this.stats();
  }
}

/** A pool's state that the acquire/release path never touches, in one object. */
interface ColdState<C> {
  readonly retry: Timer;
  readonly queueDeadline: Timer;
  readonly idleDeadline: Timer;
  readonly leaks: LeakDetector;
  readonly housekeeper: Housekeeper;
  /** The close sequence, and the connector `destroy` calls it waits for. */
  readonly shutdown: Shutdown<C>;
  warmups: { resolve: () => void; reject: (error: unknown) => void }[];
  /** The context of `release` and `destroy` calls; its signal aborts when close() stops waiting. */
  readonly context: ConnectorContext;
  /** A connect for `min` failed with the application's error: wait for the next tick. */
  minFillHeld: boolean;
}

/** Creates a pool. Options are validated here: a bad one throws `InvalidOptionError`. */
export function createPool<C>(options: PoolOptions<C>): Pool<C> {
  return new Pool(options);
}
