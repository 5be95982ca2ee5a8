import { ConnectionBag } from "./bag.js";
import { channels } from "./channels.js";
import type { Clock } from "./clock.js";
import { systemClock, turnClock } from "./clock.js";
import { ConnectAttempt, ConnectGate } from "./connect-gate.js";
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
  PingTimeoutError,
  PoolClosedError,
  PoolQueueFullError,
} from "./errors.js";
import { GuardedConnector } from "./guarded-connector.js";
import { Housekeeper } from "./housekeeper.js";
import { LeakDetector } from "./leak-detector.js";
import type { LeaseOwner, ReleaseOptions } from "./lease.js";
import { kLeaseOverdue, kReleaseLease, Lease } from "./lease.js";
import type { PoolOptions, ResolvedOptions } from "./options.js";
import { checkNumber, numberOptions, resolveOptions } from "./options.js";
import { PingCheck } from "./ping-check.js";
import { trackPool, untrackPool } from "./registry.js";
import { expiryFor, idleExpired, needsPing, retireReason, unusableReason } from "./retirement.js";
import { Scheduler } from "./scheduler.js";
import type { PoolState, PoolStats } from "./stats.js";
import { Counters } from "./stats.js";
import type { WaiterOwner } from "./waiter.js";
import { kWaiterDue, Waiter, waiterPromise } from "./waiter.js";
import { WaiterQueue } from "./waiter-queue.js";

/** Per-call acquire settings. */
export interface AcquireOptions {
  /** Give up when this signal aborts (`AcquireAbortedError`). */
  signal?: AbortSignal;
  /** This call's deadline instead of `acquireTimeoutMillis`. */
  timeoutMillis?: number;
}

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

const evictOptionRule = {
  kind: "number",
  min: 0,
  max: Number.MAX_SAFE_INTEGER,
  default: 0,
  description: "",
} as const;

/**
 * A connection pool over any {@link Connector}. Create it with {@link createPool}. This class is
 * orchestration only: the policies it applies live in connect-gate.ts (when to open),
 * retirement.ts (when to close), waiter.ts/waiter-queue.ts (who waits), bag.ts (where connections
 * are) and guarded-connector.ts (how the connector is called). docs/architecture.md walks through
 * the life of an acquire and of a connection.
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
  private readonly scheduler: Scheduler;
  private readonly gate: ConnectGate;
  private readonly counters = new Counters();
  /** Leak detection is on: capture stacks and watch leases (skipped entirely when off). */
  private readonly leakOn: boolean;
  private readonly prePingOn: boolean;
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
    this.leakOn = o.leakDetectionThresholdMillis > 0;
    this.prePingOn = o.prePing !== false;
    const closeController = new AbortController();
    this.cold = {
      retry: new Timer(() => this.pump()),
      queueDeadline: new Timer((now) => this.expireQueued(now)),
      idleDeadline: new Timer((now) => this.expireIdle(now)),
      leaks: new LeakDetector(o.leakDetectionThresholdMillis, this.scheduler, this),
      housekeeper: new Housekeeper(this.scheduler, {
        onClockLeap: (late) => this.onClockLeap(late),
        sweep: (now) => this.sweep(now),
      }),
      checks: new Set(),
      destroying: new Set(),
      warmups: [],
      closing: undefined,
      drained: undefined,
      closeController,
      context: { signal: closeController.signal, clock: o.clock, poolName: o.name },
      minFillHeld: false,
    };
    this.cold.housekeeper.start(this.clock.now());
    trackPool(this);
    if (channels.poolCreate.hasSubscribers) channels.poolCreate.publish({ pool: this });
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
        timeoutMillis = checkNumber(
          "timeoutMillis",
          options.timeoutMillis,
          numberOptions.acquireTimeoutMillis,
        );
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
      this.publishAcquireFailed(channels.queueFull, 0, error);
      return Promise.reject(error);
    }
    if (this.gate.circuitOpen && this.bag.idle.length === 0) {
      return Promise.reject(this.unavailable(now, 0));
    }

    const promise = waiterPromise<C>();
    const dueAt = now + timeoutMillis;
    const waiter = new Waiter<C>(
      this as WaiterOwner<C>,
      dueAt,
      timeoutMillis,
      acquireError,
      signal,
    );
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
   * Returns how many connections were evicted or marked.
   */
  evict(options?: { olderThan?: number }): number {
    const olderThan =
      options?.olderThan === undefined
        ? 0
        : checkNumber("olderThan", options.olderThan, evictOptionRule);
    const cutoff = this.clock.now() - olderThan;
    const marked = this.softEvict((entry) => entry.createdAt <= cutoff);
    this.pump();
    return marked;
  }

  /** An immutable snapshot of the pool's state and counters. */
  stats(): PoolStats {
    let pending = this.waiters.live;
    for (const check of this.cold.checks) if (!check.waiter.settled) pending++;
    const idle = this.bag.count("idle");
    const total = this.bag.size;
    const now = this.clock.now();
    let expiring = 0;
    for (const entry of this.bag.entries()) {
      if (entry.state !== "idle" && (entry.evictReason !== undefined || now >= entry.expiresAt))
        expiring++;
    }
    return {
      name: this.name,
      state: this.lifecycle,
      total,
      idle,
      used: total - idle,
      leased: this.bag.count("leased"),
      validating: this.bag.count("validating"),
      releasing: this.bag.count("releasing"),
      creating: this.gate.attempts.size,
      expiring,
      pending,
      min: this.o.min,
      max: this.o.max,
      circuit: this.gate.circuitOpen ? "open" : "closed",
      counters: this.counters.snapshot(),
      // a copy: a connector may hand out its live counters object
      connector: { ...this.connector.stats() },
    };
  }

  /**
   * Stops handing out connections: rejects waiters with `PoolClosedError`, closes idle
   * connections, waits up to `timeoutMillis` (default `shutdownTimeoutMillis`) for leases to come
   * back, then closes the rest and reports which leases were still out. Idempotent.
   */
  close(options?: { timeoutMillis?: number }): Promise<CloseReport> {
    if (this.cold.closing === undefined) {
      let timeoutMillis = this.o.shutdownTimeoutMillis;
      if (options?.timeoutMillis !== undefined) {
        try {
          timeoutMillis = checkNumber(
            "timeoutMillis",
            options.timeoutMillis,
            numberOptions.shutdownTimeoutMillis,
          );
        } catch (error) {
          return Promise.reject(error);
        }
      }
      this.cold.closing = this.shutDown(timeoutMillis);
    }
    return this.cold.closing;
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
    if (channels.connectionRelease.hasSubscribers) {
      channels.connectionRelease.publish({
        pool: this,
        connectionId: entry.id,
        useMillis: now - entry.leasedAt,
      });
    }

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
    this.settle(waiter);
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
      this.publishAcquireFailed(channels.acquireTimeout, waited, error);
    }
    waiter.reject(error);
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

  /** Hands idle connections to waiters, oldest waiter first; pings the ones that need it. */
  private lendIdle(now: number): void {
    while (this.waiters.live > 0 && this.bag.idle.length > 0) {
      const entry = this.bag.idle[this.bag.idle.length - 1] as PoolEntry<C>;
      const reason = this.unusable(entry, now);
      if (reason !== undefined) {
        this.destroy(entry, reason);
        continue;
      }
      const waiter = this.waiters.shift() as Waiter<C>;
      waiter.state = "matched";
      if (needsPing(entry, this.o.prePing, now)) {
        // out of the queue, the waiter's deadline can no longer ride on the queue's
        if (!waiter.ownDeadline) {
          waiter.ownDeadline = true;
          this.scheduler.schedule(waiter, waiter.dueAt);
        }
        this.bag.popIdle("validating");
        this.ping(entry, waiter, now);
      } else {
        this.bag.popIdle("leased");
        if (this.prePingOn) this.counters.pingBypassed++;
        this.handOver(entry, waiter, now);
      }
    }
  }

  /** Opens connections for the waiters left and to keep `min`, within `max` and the backoff. */
  private fill(now: number): void {
    const creating = this.gate.attempts.size;
    const supply = creating + this.bag.count("releasing");
    const forMin = this.cold.minFillHeld ? 0 : this.o.min - this.bag.size - creating;
    let wanted = Math.max(this.waiters.live - supply, forMin);
    if (this.gate.circuitOpen && creating === 0) wanted = Math.max(wanted, 1); // keep probing
    const room = this.o.max - this.bag.size - creating;
    const count = this.gate.allowed(Math.min(wanted, room), now);
    if (count <= 0) {
      const retry = this.cold.retry;
      if (wanted > 0 && room > 0 && this.gate.waiting(now) && retry.heapIndex === -1)
        this.scheduler.schedule(retry, this.gate.nextAttemptAt);
      return;
    }
    for (let i = 0; i < count; i++) this.openConnection(now);
  }

  // ---------------------------------------------------------------------------------------------
  // borrowing

  /** Stage 1 and 2 of pre-ping on the top idle connection; retires dead ones on the way. */
  private takeReadyIdle(now: number): PoolEntry<C> | undefined {
    const idle = this.bag.idle;
    while (idle.length > 0) {
      const entry = idle[idle.length - 1] as PoolEntry<C>;
      const reason = this.unusable(entry, now);
      if (reason !== undefined) {
        this.destroy(entry, reason);
        continue;
      }
      if (needsPing(entry, this.o.prePing, now)) return undefined;
      if (this.prePingOn) this.counters.pingBypassed++;
      this.bag.popIdle("leased");
      return entry;
    }
    return undefined;
  }

  /** Why an idle connection must not be lent, if it must not (stage 1: the free local check). */
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
    if (channels.connectionAcquire.hasSubscribers) {
      channels.connectionAcquire.publish({
        pool: this,
        connectionId: entry.id,
        waitMillis: now - startedAt,
      });
    }
    return lease;
  }

  /** Gives a `leased` entry to a waiter. */
  private handOver(entry: PoolEntry<C>, waiter: Waiter<C>, now: number): void {
    this.settle(waiter);
    waiter.resolve(this.grant(entry, now, waiter.startedAt, waiter.acquireError));
  }

  private settle(waiter: Waiter<C>): void {
    waiter.state = "settled";
    if (waiter.ownDeadline) this.scheduler.cancel(waiter);
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener("abort", waiter.onAbort);
  }

  /** Rejects a waiter that is queued or matched. */
  private turnAway(waiter: Waiter<C>, error: Error): void {
    this.settle(waiter);
    waiter.reject(error);
  }

  /** Stage 3: a round trip bounded by `prePing.timeoutMillis`, for one waiter. */
  private ping(entry: PoolEntry<C>, waiter: Waiter<C>, now: number): void {
    const timeoutMillis = (this.o.prePing as { timeoutMillis: number }).timeoutMillis;
    const check = new PingCheck(entry, waiter, now, this.cold.context, (c) =>
      this.pinged(c, "timeout", new PingTimeoutError(this.name, timeoutMillis)),
    );
    this.cold.checks.add(check);
    this.scheduler.schedule(check, now + timeoutMillis);
    this.connector.ping(entry.connection, check.context).then(
      () => this.pinged(check, "ok", undefined),
      (error: unknown) => this.pinged(check, "failed", error),
    );
  }

  private pinged(check: PingCheck<C>, result: "ok" | "failed" | "timeout", error: unknown): void {
    if (check.done) return;
    check.done = true;
    this.cold.checks.delete(check);
    this.scheduler.cancel(check);
    const { entry, waiter } = check;
    const now = this.clock.now();
    if (result === "timeout") check.controller.abort(error);
    if (result === "ok") this.counters.pingOk++;
    else if (result === "failed") this.counters.pingFailed++;
    else this.counters.pingTimeout++;
    if (channels.connectionPing.hasSubscribers) {
      channels.connectionPing.publish({
        pool: this,
        connectionId: entry.id,
        result,
        durationMillis: now - check.startedAt,
        ...(error === undefined ? {} : { error }),
      });
    }

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

  /**
   * The idle deadline fired: retire connections idle past `idleTimeoutMillis` above `min`, least
   * recently used first, then wait for the next one. (It fires early when the connection it was
   * set for was lent meanwhile; it then only moves on.)
   */
  private expireIdle(now: number): void {
    const idleTimeout = this.o.idleTimeoutMillis;
    const idle = this.bag.idle;
    while (idle.length > 0 && this.bag.size > this.o.min) {
      const oldest = idle[0] as PoolEntry<C>;
      if (!idleExpired(oldest as PoolEntry<unknown>, idleTimeout, now)) {
        this.scheduler.schedule(this.cold.idleDeadline, oldest.idleSince + idleTimeout);
        break;
      }
      this.destroy(oldest, "idle");
    }
    this.pump();
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
      connectionLost: () => this.connectionLost(attempt),
    };
    this.connector.connect(context).then(
      (connection) => this.connected(attempt, connection),
      (error: unknown) => this.connectFailed(attempt, error, false),
    );
  }

  private connected(attempt: ConnectAttempt, connection: C): void {
    if (!this.gate.finish(attempt)) {
      // it arrived after its deadline or after close: never leak it
      this.track(this.connector.destroy(connection, this.cold.context));
      return;
    }
    this.scheduler.cancel(attempt);
    const now = this.clock.now();
    if (this.lifecycle !== "open") {
      this.track(this.connector.destroy(connection, this.cold.context));
      this.checkDrained();
      return;
    }
    if (this.gate.succeeded() && channels.circuitClose.hasSubscribers)
      channels.circuitClose.publish({ pool: this, error: undefined });
    const entry = new PoolEntry(
      this as LeaseOwner<C>,
      this.nextId++,
      connection,
      now,
      expiryFor(now, this.o.maxLifetimeSeconds, this.o.lifetimeJitter, this.o.random),
    );
    attempt.entry = entry as PoolEntry<unknown>;
    this.counters.creates++;
    if (channels.connectionCreate.hasSubscribers) {
      channels.connectionCreate.publish({
        pool: this,
        connectionId: entry.id,
        durationMillis: now - attempt.startedAt,
      });
    }
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      waiter.state = "matched";
      this.bag.add(entry, "leased");
      this.handOver(entry, waiter, now);
    } else {
      this.goIdle(entry, now, true);
    }
    const warmups = this.cold.warmups;
    if (this.bag.size >= this.o.min && warmups.length > 0) {
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
      this.checkDrained();
      return;
    }
    this.counters.createErrors++;
    // the application's error (an onConnect hook that threw): not the database's availability
    const statement = !timedOut && this.connector.classify(error) === "statement";
    const retryIn = statement ? 0 : this.gate.failed(attempt, now, error);
    if (channels.connectionCreateError.hasSubscribers) {
      channels.connectionCreateError.publish({
        pool: this,
        durationMillis: now - attempt.startedAt,
        error,
        failures: this.gate.failures,
        retryInMillis: retryIn,
      });
    }
    const warmups = this.cold.warmups;
    if (warmups.length > 0) {
      this.cold.warmups = [];
      for (const w of warmups) w.reject(error);
    }
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

  /**
   * The connector saw a connection die on its own: an idle one leaves the pool now. It is replaced
   * on demand or at the next housekeeping tick, not at once: connections die together when the
   * server restarts, and probing it then would fail, open the circuit and turn away the first
   * callers after it is back.
   */
  private connectionLost(attempt: ConnectAttempt): void {
    const entry = attempt.entry as PoolEntry<C> | undefined;
    if (entry === undefined || entry.state !== "idle") return;
    this.destroy(entry, "broken");
  }

  /** With connects failing and nothing open, waiting is pointless: fail everyone fast. */
  private maybeOpenCircuit(now: number): void {
    if (!this.gate.shouldOpenCircuit(this.bag.size)) return;
    if (channels.circuitOpen.hasSubscribers) {
      channels.circuitOpen.publish({ pool: this, error: this.gate.lastError });
    }
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
    this.publishAcquireFailed(channels.unavailable, waitedMillis, error);
    return error;
  }

  private destroy(entry: PoolEntry<C>, reason: DestroyReason): void {
    if (entry.state === "destroyed") return;
    this.bag.transition(entry, "destroyed");
    this.counters.destroys[reason]++;
    if (channels.connectionDestroy.hasSubscribers) {
      channels.connectionDestroy.publish({ pool: this, connectionId: entry.id, reason });
    }
    this.track(this.connector.destroy(entry.connection, this.cold.context));
    if (this.lifecycle === "open") this.maybeOpenCircuit(this.clock.now());
    else this.checkDrained();
  }

  /** Keeps destroy promises (which never reject) so close() can wait for them. */
  private track(destroying: Promise<void>): void {
    const set = this.cold.destroying;
    set.add(destroying);
    void destroying.then(() => set.delete(destroying));
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
  // housekeeping

  private onClockLeap(lateMillis: number): void {
    this.counters.clockLeaps++;
    for (const entry of this.bag.idle) entry.needsPing = true;
    if (channels.clockLeap.hasSubscribers)
      channels.clockLeap.publish({ pool: this, jumpMillis: lateMillis });
  }

  private sweep(now: number): void {
    this.cold.minFillHeld = false;
    let open = this.bag.size;
    // bottom of the stack first: the least recently used connections retire first
    for (const entry of [...this.bag.idle]) {
      let reason = this.unusable(entry, now);
      if (
        reason === undefined &&
        open > this.o.min &&
        idleExpired(entry as PoolEntry<unknown>, this.o.idleTimeoutMillis, now)
      ) {
        reason = "idle";
      }
      if (reason !== undefined) {
        this.destroy(entry, reason);
        open--;
      }
    }
    this.pump();
  }

  // ---------------------------------------------------------------------------------------------
  // closing

  private async shutDown(timeoutMillis: number): Promise<CloseReport> {
    const cold = this.cold;
    this.lifecycle = "closing";
    untrackPool(this);
    cold.housekeeper.stop();
    this.scheduler.cancel(cold.retry);
    this.scheduler.cancel(cold.idleDeadline);
    const closed = new PoolClosedError(this.name);
    for (const waiter of this.waiters.drain()) this.turnAway(waiter, closed);
    // pre-pings in flight: their waiters are turned away, so the round trips are pointless
    for (const check of [...cold.checks]) {
      check.done = true;
      cold.checks.delete(check);
      this.scheduler.cancel(check);
      check.controller.abort(closed);
      if (!check.waiter.settled) this.turnAway(check.waiter, closed);
      this.destroy(check.entry, "shutdown");
    }
    for (const w of cold.warmups) w.reject(closed);
    cold.warmups = [];
    for (const attempt of this.gate.attempts) attempt.controller.abort(closed);
    for (const entry of [...this.bag.idle]) this.destroy(entry, "shutdown");

    let forced = false;
    const outstanding: OutstandingLease[] = [];
    if (this.bag.size > 0 || this.gate.attempts.size > 0) {
      const drained = new Promise<void>((resolve) => {
        cold.drained = resolve;
      });
      let timer: unknown;
      const deadline = new Promise<"timeout">((resolve) => {
        // a plain (ref'd) timer: a pending close() should keep the process alive until it is done
        timer = this.o.clock.setTimeout(() => resolve("timeout"), timeoutMillis);
      });
      const outcome = await Promise.race([drained, deadline]);
      this.o.clock.clearTimeout(timer);
      if (outcome === "timeout") {
        cold.closeController.abort(closed);
        const now = this.clock.now();
        for (const entry of [...this.bag.entries()]) {
          const lease = entry.lease;
          if (lease !== undefined) {
            forced = true;
            outstanding.push({
              connectionId: entry.id,
              heldMillis: now - entry.leasedAt,
              acquireStack: entry.acquireStack,
            });
            entry.revokedLease = lease;
            entry.lease = undefined;
            cold.leaks.unwatch(entry as PoolEntry<unknown>, now);
          }
          this.destroy(entry, "shutdown");
        }
        for (const attempt of [...this.gate.attempts]) {
          this.gate.finish(attempt);
          this.scheduler.cancel(attempt);
        }
      }
    }
    while (cold.destroying.size > 0) await Promise.all([...cold.destroying]);
    this.scheduler.stop();
    this.lifecycle = "closed";
    const report: CloseReport = { forced, leasesOutstanding: outstanding };
    if (channels.poolClose.hasSubscribers) {
      channels.poolClose.publish({ pool: this, forced, leasesOutstanding: outstanding.length });
    }
    return report;
  }

  private checkDrained(): void {
    const drained = this.cold.drained;
    if (drained !== undefined && this.bag.size === 0 && this.gate.attempts.size === 0) {
      this.cold.drained = undefined;
      drained();
    }
  }

  private publishAcquireFailed(
    channel: (typeof channels)[keyof typeof channels],
    waitMillis: number,
    error: Error,
  ): void {
    if (channel.hasSubscribers) channel.publish({ pool: this, waitMillis, error });
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
  readonly checks: Set<PingCheck<C>>;
  readonly destroying: Set<Promise<void>>;
  warmups: { resolve: () => void; reject: (error: unknown) => void }[];
  closing: Promise<CloseReport> | undefined;
  drained: (() => void) | undefined;
  /** Aborted when close() stops waiting: the signal of release/destroy contexts. */
  readonly closeController: AbortController;
  /** The context of `release` and `destroy` calls. */
  readonly context: ConnectorContext;
  /** A connect for `min` failed with the application's error: wait for the next tick. */
  minFillHeld: boolean;
}

/** Creates a pool. Options are validated here: a bad one throws `InvalidOptionError`. */
export function createPool<C>(options: PoolOptions<C>): Pool<C> {
  return new Pool(options);
}
