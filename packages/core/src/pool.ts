import { ConnectBackoff } from "./backoff.js";
import { ConnectionBag } from "./bag.js";
import { channels } from "./channels.js";
import type { Clock } from "./clock.js";
import type { Connector, ErrorClass, ReleaseDecision } from "./connector.js";
import type { DestroyReason } from "./entry.js";
import { PoolEntry } from "./entry.js";
import {
  AcquireAbortedError,
  AcquireTimeoutError,
  DatabaseUnavailableError,
  LeaseReleasedError,
  PoolClosedError,
  PoolQueueFullError,
} from "./errors.js";
import { Housekeeper } from "./housekeeper.js";
import { LeakDetector } from "./leak-detector.js";
import type { LeaseOwner, ReleaseOptions } from "./lease.js";
import { Lease } from "./lease.js";
import type { PoolOptions, ResolvedOptions } from "./options.js";
import { checkNumber, numberOptions, resolveOptions } from "./options.js";
import { trackPool, untrackPool } from "./registry.js";
import type { Timed } from "./scheduler.js";
import { Scheduler } from "./scheduler.js";
import type { PoolState, PoolStats } from "./stats.js";
import { Counters } from "./stats.js";
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

/** What a waiter needs from its pool. @internal */
interface WaiterOwner<C> {
  waiterGaveUp(waiter: Waiter<C>, now: number, why: "timeout" | "abort"): void;
}

/** A caller waiting for a connection. @internal */
class Waiter<C> implements Timed {
  dueAt = 0;
  heapIndex = -1;
  settled = false;
  /** In the queue (true) or matched to a connection being pinged (false). */
  queued = true;
  /**
   * Has its own entry in the scheduler. Waiters with the pool's default timeout do not: they are
   * due in queue order, so one {@link QueueDeadline} for the oldest of them covers them all.
   */
  ownDeadline = false;
  readonly startedAt: number;
  readonly acquireError: Error | undefined;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined = undefined;
  readonly #owner: WaiterOwner<C>;
  readonly resolve: (lease: Lease<C>) => void;
  readonly reject: (error: Error) => void;

  constructor(
    owner: WaiterOwner<C>,
    resolve: (lease: Lease<C>) => void,
    reject: (error: Error) => void,
    startedAt: number,
    acquireError: Error | undefined,
    signal: AbortSignal | undefined,
  ) {
    this.#owner = owner;
    this.resolve = resolve;
    this.reject = reject;
    this.startedAt = startedAt;
    this.acquireError = acquireError;
    this.signal = signal;
  }

  onDue(now: number): void {
    this.#owner.waiterGaveUp(this, now, "timeout");
  }
}

/** The deadline of the oldest queued waiter that uses the pool's default timeout. @internal */
class QueueDeadline implements Timed {
  dueAt = 0;
  heapIndex = -1;
  readonly #onDue: (now: number) => void;
  constructor(onDue: (now: number) => void) {
    this.#onDue = onDue;
  }
  onDue(now: number): void {
    this.#onDue(now);
  }
}

/** A connect in flight, with its deadline. @internal */
class CreateAttempt implements Timed {
  dueAt = 0;
  heapIndex = -1;
  done = false;
  readonly controller = new AbortController();
  readonly startedAt: number;
  readonly #onTimeout: (attempt: CreateAttempt) => void;
  constructor(startedAt: number, onTimeout: (attempt: CreateAttempt) => void) {
    this.startedAt = startedAt;
    this.#onTimeout = onTimeout;
  }
  onDue(): void {
    this.#onTimeout(this);
  }
}

/** A pre-ping in flight, for one waiter, with its deadline. @internal */
class PingCheck<C> implements Timed {
  dueAt = 0;
  heapIndex = -1;
  done = false;
  readonly controller = new AbortController();
  readonly entry: PoolEntry<C>;
  readonly waiter: Waiter<C>;
  readonly startedAt: number;
  readonly #onTimeout: (check: PingCheck<C>) => void;
  constructor(
    entry: PoolEntry<C>,
    waiter: Waiter<C>,
    startedAt: number,
    onTimeout: (check: PingCheck<C>) => void,
  ) {
    this.entry = entry;
    this.waiter = waiter;
    this.startedAt = startedAt;
    this.#onTimeout = onTimeout;
  }
  onDue(): void {
    this.#onTimeout(this);
  }
}

/** Fires a pump when the backoff delay is over. @internal */
class RetryTimer implements Timed {
  dueAt = 0;
  heapIndex = -1;
  readonly #pump: () => void;
  constructor(pump: () => void) {
    this.#pump = pump;
  }
  onDue(): void {
    this.#pump();
  }
}

/**
 * A connection pool over any {@link Connector}. Create it with {@link createPool}.
 *
 * Invariants, kept by {@link Pool.pump} (the one place connections are handed out or opened):
 * - a caller never receives a connection the pool knows to be dead;
 * - open + opening connections never exceed `max`;
 * - waiters are served in arrival order; idle connections are reused most-recent first;
 * - nothing is handed out twice: an entry is `leased` to at most one lease at a time.
 */
export class Pool<C> implements LeaseOwner<C>, WaiterOwner<C>, AsyncDisposable {
  /** Tells pools apart in metrics, events and errors. */
  readonly name: string;
  readonly #o: ResolvedOptions<C>;
  readonly #connector: Connector<C>;
  readonly #clock: Clock;
  readonly #bag = new ConnectionBag<C>();
  readonly #waiters = new WaiterQueue<Waiter<C>>();
  readonly #scheduler: Scheduler;
  readonly #backoff: ConnectBackoff;
  readonly #retry: RetryTimer;
  readonly #queueDeadline: QueueDeadline;
  /** Leak detection is on: capture stacks and watch leases (skipped entirely when off). */
  readonly #leakOn: boolean;
  readonly #leaks: LeakDetector;
  readonly #housekeeper: Housekeeper;
  readonly #counters = new Counters();
  readonly #attempts = new Set<CreateAttempt>();
  readonly #checks = new Set<PingCheck<C>>();
  readonly #destroying = new Set<Promise<void>>();
  #warmups: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  #state: PoolState = "open";
  #circuitOpen = false;
  #nextId = 1;
  #pumping = false;
  #pumpAgain = false;
  #closing: Promise<CloseReport> | undefined;
  #drained: (() => void) | undefined;

  constructor(options: PoolOptions<C>) {
    this.#o = resolveOptions(options);
    this.name = this.#o.name;
    this.#connector = this.#o.connector;
    this.#clock = this.#o.clock;
    this.#scheduler = new Scheduler(this.#clock);
    this.#backoff = new ConnectBackoff(this.#o.random);
    this.#retry = new RetryTimer(() => this.#pump());
    this.#queueDeadline = new QueueDeadline((now) => this.#expireQueued(now));
    this.#leakOn = this.#o.leakDetectionThresholdMillis > 0;
    this.#leaks = new LeakDetector(this.#o.leakDetectionThresholdMillis, this.#scheduler, this);
    this.#housekeeper = new Housekeeper(this.#scheduler, {
      onClockLeap: (late) => this.#onClockLeap(late),
      sweep: (now) => this.#sweep(now),
    });
    this.#housekeeper.start(this.#clock.now());
    trackPool(this);
    if (channels.poolCreate.hasSubscribers) channels.poolCreate.publish({ pool: this });
    this.#pump();
  }

  /** `open`, `closing` (waiting for leases to come back) or `closed`. */
  get state(): PoolState {
    return this.#state;
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
    if (this.#state !== "open") return Promise.reject(new PoolClosedError(this.name));
    const signal = options?.signal;
    if (signal?.aborted === true) {
      this.#counters.aborts++;
      return Promise.reject(new AcquireAbortedError(this.name, signal.reason));
    }
    let timeoutMillis = this.#o.acquireTimeoutMillis;
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
    const acquireError = this.#leakOn ? this.#leaks.capture() : undefined;
    const now = this.#clock.now();

    // fast path: nobody is waiting ahead of us and a good connection is idle
    if (this.#waiters.live === 0) {
      const entry = this.#takeReadyIdle(now);
      if (entry !== undefined) return Promise.resolve(this.#grant(entry, now, now, acquireError));
    }

    // the queue is the callers beyond what the free slots (open or opening) can serve
    if (this.#waiters.live - (this.#o.max - this.#bag.size) >= this.#o.maxWaiting) {
      this.#counters.queueFull++;
      const error = new PoolQueueFullError(this.name, this.#o.maxWaiting);
      this.#publishAcquireFailed(channels.queueFull, 0, error);
      return Promise.reject(error);
    }
    if (this.#circuitOpen && this.#bag.idle.length === 0) {
      return Promise.reject(this.#unavailable(now, 0));
    }

    return new Promise<Lease<C>>((resolve, reject) => {
      const waiter = new Waiter(this, resolve, reject, now, acquireError, signal);
      this.#waiters.push(waiter);
      if (timeoutMillis === this.#o.acquireTimeoutMillis) {
        waiter.dueAt = now + timeoutMillis;
        if (this.#queueDeadline.heapIndex === -1)
          this.#scheduler.schedule(this.#queueDeadline, waiter.dueAt);
      } else {
        waiter.ownDeadline = true;
        this.#scheduler.schedule(waiter, now + timeoutMillis);
      }
      if (signal !== undefined) {
        waiter.onAbort = () => this.waiterGaveUp(waiter, this.#clock.now(), "abort");
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#pump();
    });
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
    if (this.#state !== "open") return Promise.reject(new PoolClosedError(this.name));
    if (this.#bag.size >= this.#o.min) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#warmups.push({ resolve, reject });
      this.#pump();
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
        : checkNumber("olderThan", options.olderThan, {
            kind: "number",
            min: 0,
            max: Number.MAX_SAFE_INTEGER,
            default: 0,
            description: "",
          });
    const cutoff = this.#clock.now() - olderThan;
    const marked = this.#softEvict((entry) => entry.createdAt <= cutoff);
    this.#pump();
    return marked;
  }

  /** An immutable snapshot of the pool's state and counters. */
  stats(): PoolStats {
    let pending = this.#waiters.live;
    for (const check of this.#checks) if (!check.waiter.settled) pending++;
    const idle = this.#bag.count("idle");
    const total = this.#bag.size;
    const now = this.#clock.now();
    let expiring = 0;
    for (const entry of this.#bag.entries()) {
      if (entry.state !== "idle" && (entry.evictReason !== undefined || now >= entry.expiresAt))
        expiring++;
    }
    return {
      name: this.name,
      state: this.#state,
      total,
      idle,
      used: total - idle,
      leased: this.#bag.count("leased"),
      validating: this.#bag.count("validating"),
      releasing: this.#bag.count("releasing"),
      creating: this.#attempts.size,
      expiring,
      pending,
      min: this.#o.min,
      max: this.#o.max,
      circuit: this.#circuitOpen ? "open" : "closed",
      counters: this.#counters.snapshot(),
      // a copy: a connector may hand out its live counters object
      connector: { ...this.#connector.stats?.() },
    };
  }

  /**
   * Stops handing out connections: rejects waiters with `PoolClosedError`, closes idle
   * connections, waits up to `timeoutMillis` (default `shutdownTimeoutMillis`) for leases to come
   * back, then closes the rest and reports which leases were still out. Idempotent.
   */
  close(options?: { timeoutMillis?: number }): Promise<CloseReport> {
    if (this.#closing === undefined) {
      let timeoutMillis = this.#o.shutdownTimeoutMillis;
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
      this.#closing = this.#close(timeoutMillis);
    }
    return this.#closing;
  }

  /** Closes the pool; for `await using pool = createPool(...)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---------------------------------------------------------------------------------------------
  // lease callbacks

  /** @internal */
  releaseLease(lease: Lease<C>, options: ReleaseOptions | undefined): void {
    const entry = lease.entry;
    if (entry.lease !== lease) {
      if (lease.revoked) return; // close() already took it back; releasing late is fine
      throw new LeaseReleasedError(this.name);
    }
    entry.lease = undefined;
    // entry.acquireError stays until the connection is back in the pool: the leak report and the
    // connector's clean-up (which may name the borrower in its events) still read the stack
    const now = this.#clock.now();
    if (this.#leakOn) this.#leaks.unwatch(lease, now);
    this.#counters.releases++;
    if (channels.connectionRelease.hasSubscribers) {
      channels.connectionRelease.publish({
        pool: this,
        connectionId: entry.id,
        useMillis: now - lease.leasedAt,
      });
    }

    const reason = this.#retireReason(entry, options, now);
    if (reason !== undefined) {
      this.#destroy(entry, reason);
      this.#pump();
      return;
    }
    let decision: ReleaseDecision | Promise<ReleaseDecision>;
    try {
      decision = this.#connector.release(entry.connection, entry);
    } catch {
      decision = "destroy";
    }
    if (decision === "keep") {
      this.#checkIn(entry, now);
    } else if (decision === "destroy") {
      this.#destroy(entry, "reset-failed");
      this.#pump();
    } else {
      this.#bag.transition(entry, "releasing");
      decision.then(
        (result) => this.#released(entry, result),
        () => this.#released(entry, "destroy"),
      );
    }
  }

  /** @internal */
  leaseOverdue(lease: Lease<C>, now: number): void {
    if (lease.released) return;
    this.#counters.leaks++;
    this.#leaks.report(lease as Lease<unknown>, now);
  }

  /**
   * A waiter reached its deadline or its signal aborted; a ping in progress for it carries on.
   * @internal
   */
  waiterGaveUp(waiter: Waiter<C>, now: number, why: "timeout" | "abort"): void {
    if (waiter.settled) return;
    // the snapshot in the error shows the pool as the caller saw it: still waiting
    const stats = why === "timeout" ? this.stats() : undefined;
    this.#settle(waiter);
    if (waiter.queued) this.#waiters.noteSettled();
    const waited = now - waiter.startedAt;
    let error: Error;
    if (why === "abort") {
      this.#counters.aborts++;
      error = new AcquireAbortedError(this.name, waiter.signal?.reason);
    } else {
      this.#counters.timeouts++;
      const cause = this.#backoff.failures > 0 ? this.#backoff.lastError : undefined;
      error = new AcquireTimeoutError(waited, stats as PoolStats, cause);
      this.#publishAcquireFailed(channels.acquireTimeout, waited, error);
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
  #pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    if (this.#nothingToDo()) return;
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        if (this.#state !== "open") return;
        const now = this.#clock.now();
        this.#lendIdle(now);
        this.#fill(now);
      } while (this.#pumpAgain);
    } finally {
      this.#pumping = false;
    }
  }

  /**
   * Nothing to lend and nothing to open, decided without reading the clock: the common case when
   * a caller queues behind a busy pool.
   */
  #nothingToDo(): boolean {
    if (this.#circuitOpen) return false;
    const open = this.#bag.size + this.#attempts.size;
    if (this.#waiters.live === 0) return open >= this.#o.min;
    return this.#bag.idle.length === 0 && open >= this.#o.max;
  }

  /**
   * The queue's deadline fired: time out every default-timeout waiter that is due, oldest first,
   * then wait for the next one. (It also fires early when the waiter it was set for was served.)
   */
  #expireQueued(now: number): void {
    let next = Number.POSITIVE_INFINITY;
    this.#waiters.walk((waiter) => {
      if (waiter.ownDeadline) return true;
      if (waiter.dueAt <= now) {
        this.waiterGaveUp(waiter, now, "timeout");
        return true;
      }
      next = waiter.dueAt;
      return false;
    });
    if (next !== Number.POSITIVE_INFINITY) this.#scheduler.schedule(this.#queueDeadline, next);
  }

  /** Hands idle connections to waiters, oldest waiter first; pings the ones that need it. */
  #lendIdle(now: number): void {
    while (this.#waiters.live > 0 && this.#bag.idle.length > 0) {
      const entry = this.#bag.idle[this.#bag.idle.length - 1] as PoolEntry<C>;
      const reason = this.#unusableReason(entry, now);
      if (reason !== undefined) {
        this.#destroy(entry, reason);
        continue;
      }
      const waiter = this.#waiters.shift() as Waiter<C>;
      waiter.queued = false;
      if (this.#needsPing(entry, now)) {
        // out of the queue, the waiter's deadline can no longer ride on the queue's
        if (!waiter.ownDeadline) {
          waiter.ownDeadline = true;
          this.#scheduler.schedule(waiter, waiter.dueAt);
        }
        this.#bag.popIdle("validating");
        this.#ping(entry, waiter, now);
      } else {
        this.#bag.popIdle("leased");
        if (this.#o.prePing !== false) this.#counters.pingBypassed++;
        this.#handOver(entry, waiter, now);
      }
    }
  }

  /** Opens connections for the waiters left and to keep `min`, within `max` and the backoff. */
  #fill(now: number): void {
    const creating = this.#attempts.size;
    const supply = creating + this.#bag.count("releasing");
    let wanted = Math.max(this.#waiters.live - supply, this.#o.min - this.#bag.size - creating);
    if (this.#circuitOpen && creating === 0) wanted = Math.max(wanted, 1); // keep probing
    const room = this.#o.max - this.#bag.size - creating;
    let count = Math.min(wanted, room);
    if (count <= 0) return;
    if (this.#backoff.failures > 0) {
      // the database is failing: one attempt at a time, on the backoff schedule
      if (creating > 0) return;
      if (now < this.#backoff.nextAttemptAt) {
        if (this.#retry.heapIndex === -1)
          this.#scheduler.schedule(this.#retry, this.#backoff.nextAttemptAt);
        return;
      }
      count = 1;
    }
    for (let i = 0; i < count; i++) this.#create(now);
  }

  // ---------------------------------------------------------------------------------------------
  // borrowing

  /** Stage 1 and 2 of pre-ping on the top idle connection; retires dead ones on the way. */
  #takeReadyIdle(now: number): PoolEntry<C> | undefined {
    const idle = this.#bag.idle;
    while (idle.length > 0) {
      const entry = idle[idle.length - 1] as PoolEntry<C>;
      const reason = this.#unusableReason(entry, now);
      if (reason !== undefined) {
        this.#destroy(entry, reason);
        continue;
      }
      if (this.#needsPing(entry, now)) return undefined;
      if (this.#o.prePing !== false) this.#counters.pingBypassed++;
      this.#bag.popIdle("leased");
      return entry;
    }
    return undefined;
  }

  /** Why an idle connection must not be lent, if it must not. */
  #unusableReason(entry: PoolEntry<C>, now: number): DestroyReason | undefined {
    if (this.#isBroken(entry)) return "broken";
    if (entry.evictReason !== undefined) return entry.evictReason;
    if (now >= entry.expiresAt) return "lifetime";
    return undefined;
  }

  /** Stage 1, the connector's free local check; a check that throws counts as broken. */
  #isBroken(entry: PoolEntry<C>): boolean {
    try {
      return this.#connector.isBroken(entry.connection);
    } catch {
      return true;
    }
  }

  #needsPing(entry: PoolEntry<C>, now: number): boolean {
    const prePing = this.#o.prePing;
    // "used successfully less than bypassWindowMillis ago" skips the round trip; 0 pings every borrow
    return (
      prePing !== false && (entry.needsPing || now - entry.lastUsedAt >= prePing.bypassWindowMillis)
    );
  }

  #grant(
    entry: PoolEntry<C>,
    now: number,
    startedAt: number,
    acquireError: Error | undefined,
  ): Lease<C> {
    entry.uses++;
    entry.acquireError = acquireError;
    const lease = new Lease(this, entry, now);
    entry.lease = lease;
    if (this.#leakOn) this.#leaks.watch(lease as Lease<unknown>, now);
    this.#counters.acquires++;
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
  #handOver(entry: PoolEntry<C>, waiter: Waiter<C>, now: number): void {
    this.#settle(waiter);
    waiter.resolve(this.#grant(entry, now, waiter.startedAt, waiter.acquireError));
  }

  #settle(waiter: Waiter<C>): void {
    waiter.settled = true;
    if (waiter.ownDeadline) this.#scheduler.cancel(waiter);
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener("abort", waiter.onAbort);
  }

  /** Stage 3: a round trip bounded by `prePing.timeoutMillis`, for one waiter. */
  #ping(entry: PoolEntry<C>, waiter: Waiter<C>, now: number): void {
    const prePing = this.#o.prePing as Exclude<ResolvedOptions<C>["prePing"], false>;
    const check = new PingCheck(entry, waiter, now, (c) => this.#pinged(c, "timeout", undefined));
    this.#checks.add(check);
    this.#scheduler.schedule(check, now + prePing.timeoutMillis);
    let pinging: Promise<void>;
    try {
      pinging = this.#connector.ping(entry.connection, { signal: check.controller.signal });
    } catch (error) {
      pinging = Promise.reject(error);
    }
    pinging.then(
      () => this.#pinged(check, "ok", undefined),
      (error: unknown) => this.#pinged(check, "failed", error),
    );
  }

  #pinged(check: PingCheck<C>, result: "ok" | "failed" | "timeout", error: unknown): void {
    if (check.done) return;
    check.done = true;
    this.#checks.delete(check);
    this.#scheduler.cancel(check);
    const { entry, waiter } = check;
    const now = this.#clock.now();
    if (result === "timeout") check.controller.abort(new Error("pre-ping timed out"));
    if (result === "ok") this.#counters.pingOk++;
    else if (result === "failed") this.#counters.pingFailed++;
    else this.#counters.pingTimeout++;
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
    const reason = result === "ok" ? this.#unusableReason(entry, now) : "ping-failed";
    if (reason === undefined) {
      entry.lastUsedAt = now;
      entry.needsPing = false;
      if (!waiter.settled) {
        this.#bag.transition(entry, "leased");
        this.#handOver(entry, waiter, now);
      } else {
        // its waiter gave up meanwhile: the connection goes back to the pool, never leaks
        this.#checkIn(entry, now);
      }
    } else {
      this.#destroy(entry, reason);
      if (reason === "ping-failed") {
        // connections opened before it sat through the same network: check them before lending
        for (const other of this.#bag.idle) if (other.id < entry.id) other.needsPing = true;
      }
      if (!waiter.settled) {
        // try another connection inside the same deadline, ahead of everyone who came later
        waiter.queued = true;
        this.#waiters.unshift(waiter);
      }
    }
    this.#pump();
  }

  // ---------------------------------------------------------------------------------------------
  // returning

  /** Why a connection coming back must be closed instead of reused, if it must. */
  #retireReason(
    entry: PoolEntry<C>,
    options: ReleaseOptions | undefined,
    now: number,
  ): DestroyReason | undefined {
    if (this.#state !== "open") return "shutdown";
    if (options?.destroy === true) return "released-destroy";
    if (options?.error !== undefined) {
      let kind: ErrorClass | "unknown";
      try {
        kind = this.#connector.classify(options.error);
      } catch {
        kind = "unknown"; // a classifier that throws must not leak the connection's slot
      }
      if (kind === "connection") {
        // failover, restart: whatever was opened before this one likely shares its fate
        // (ids follow creation order, so connections opened in the same millisecond are ordered too)
        this.#softEvict((other) => other.id < entry.id);
        return "error";
      }
      if (kind === "unknown") return "error"; // cannot tell whether it is alive: do not reuse it
    }
    if (this.#isBroken(entry)) {
      for (const other of this.#bag.idle) if (other.id < entry.id) other.needsPing = true;
      return "broken";
    }
    if (entry.evictReason !== undefined) return entry.evictReason;
    if (now >= entry.expiresAt) return "lifetime";
    if (entry.uses >= this.#o.maxUses) return "max-uses";
    return undefined;
  }

  /** The connector finished cleaning a session asynchronously. */
  #released(entry: PoolEntry<C>, decision: ReleaseDecision): void {
    if (entry.state !== "releasing") return; // close() forced it meanwhile
    const now = this.#clock.now();
    // the clean-up took time: the socket may have died, or the connection aged, evicted meanwhile
    const reason =
      this.#state !== "open"
        ? "shutdown"
        : decision !== "keep"
          ? "reset-failed"
          : this.#unusableReason(entry, now);
    if (reason === undefined) {
      this.#checkIn(entry, now);
      return;
    }
    this.#destroy(entry, reason);
    this.#pump();
  }

  /** A healthy connection is back: straight to the first waiter, else onto the idle stack. */
  #checkIn(entry: PoolEntry<C>, now: number): void {
    entry.lastUsedAt = now;
    entry.needsPing = false;
    entry.acquireError = undefined;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter.queued = false;
      if (entry.state !== "leased") this.#bag.transition(entry, "leased");
      this.#handOver(entry, waiter, now);
      return;
    }
    entry.idleSince = now;
    this.#bag.transition(entry, "idle");
  }

  // ---------------------------------------------------------------------------------------------
  // opening and closing connections

  #create(now: number): void {
    const attempt = new CreateAttempt(now, (a) =>
      this.#connectFailed(
        a,
        new Error(`connect timed out after ${this.#o.acquireTimeoutMillis} ms`),
      ),
    );
    this.#attempts.add(attempt);
    this.#scheduler.schedule(attempt, now + this.#o.acquireTimeoutMillis);
    let connecting: Promise<C>;
    try {
      connecting = this.#connector.connect({ signal: attempt.controller.signal });
    } catch (error) {
      connecting = Promise.reject(error);
    }
    connecting.then(
      (connection) => this.#connected(attempt, connection),
      (error: unknown) => this.#connectFailed(attempt, error),
    );
  }

  #connected(attempt: CreateAttempt, connection: C): void {
    if (attempt.done) {
      // it arrived after its deadline or after close: never leak it
      this.#track(Promise.resolve().then(() => this.#connector.destroy(connection)));
      return;
    }
    this.#finishAttempt(attempt);
    const now = this.#clock.now();
    if (this.#state !== "open") {
      this.#track(Promise.resolve().then(() => this.#connector.destroy(connection)));
      this.#checkDrained();
      return;
    }
    this.#backoff.recordSuccess();
    if (this.#circuitOpen) {
      this.#circuitOpen = false;
      if (channels.circuitClose.hasSubscribers)
        channels.circuitClose.publish({ pool: this, error: undefined });
    }
    const entry = new PoolEntry(this.#nextId++, connection, now, this.#expiry(now));
    this.#counters.creates++;
    if (channels.connectionCreate.hasSubscribers) {
      channels.connectionCreate.publish({
        pool: this,
        connectionId: entry.id,
        durationMillis: now - attempt.startedAt,
      });
    }
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter.queued = false;
      this.#bag.add(entry, "leased");
      this.#handOver(entry, waiter, now);
    } else {
      this.#bag.add(entry, "idle");
    }
    if (this.#bag.size >= this.#o.min && this.#warmups.length > 0) {
      const warmups = this.#warmups;
      this.#warmups = [];
      for (const w of warmups) w.resolve();
    }
    this.#pump();
  }

  #connectFailed(attempt: CreateAttempt, error: unknown): void {
    if (attempt.done) return;
    this.#finishAttempt(attempt);
    attempt.controller.abort(error);
    const now = this.#clock.now();
    if (this.#state !== "open") {
      this.#checkDrained();
      return;
    }
    this.#counters.createErrors++;
    const retryIn = this.#backoff.recordFailure(now, error, attempt.startedAt);
    if (channels.connectionCreateError.hasSubscribers) {
      channels.connectionCreateError.publish({
        pool: this,
        durationMillis: now - attempt.startedAt,
        error,
        failures: this.#backoff.failures,
        retryInMillis: retryIn,
      });
    }
    if (this.#warmups.length > 0) {
      const warmups = this.#warmups;
      this.#warmups = [];
      for (const w of warmups) w.reject(error);
    }
    this.#maybeOpenCircuit(now);
    this.#pump();
  }

  #finishAttempt(attempt: CreateAttempt): void {
    attempt.done = true;
    this.#attempts.delete(attempt);
    this.#scheduler.cancel(attempt);
  }

  /** With connects failing and nothing open, waiting is pointless: fail everyone fast. */
  #maybeOpenCircuit(now: number): void {
    if (this.#circuitOpen || this.#backoff.failures === 0 || this.#bag.size > 0) return;
    if (this.#attempts.size > 0) return;
    this.#circuitOpen = true;
    if (channels.circuitOpen.hasSubscribers) {
      channels.circuitOpen.publish({ pool: this, error: this.#backoff.lastError });
    }
    for (const waiter of this.#waiters.drain()) {
      waiter.queued = false;
      this.#settle(waiter);
      waiter.reject(this.#unavailable(now, now - waiter.startedAt));
    }
  }

  #unavailable(now: number, waitedMillis: number): DatabaseUnavailableError {
    this.#counters.unavailable++;
    const error = new DatabaseUnavailableError(
      this.name,
      this.#backoff.lastError,
      Math.max(0, this.#backoff.nextAttemptAt - now),
    );
    this.#publishAcquireFailed(channels.unavailable, waitedMillis, error);
    return error;
  }

  #expiry(now: number): number {
    const lifetime = this.#o.maxLifetimeSeconds * 1000;
    if (lifetime === 0) return Number.POSITIVE_INFINITY;
    // negative jitter only, so no connection outlives maxLifetimeSeconds and they never expire together
    return now + lifetime * (1 - this.#o.lifetimeJitter * this.#o.random());
  }

  #destroy(entry: PoolEntry<C>, reason: DestroyReason): void {
    if (entry.state === "destroyed") return;
    this.#bag.transition(entry, "destroyed");
    this.#counters.destroys[reason]++;
    if (channels.connectionDestroy.hasSubscribers) {
      channels.connectionDestroy.publish({ pool: this, connectionId: entry.id, reason });
    }
    this.#track(Promise.resolve().then(() => this.#connector.destroy(entry.connection)));
    if (this.#state === "open") this.#maybeOpenCircuit(this.#clock.now());
    else this.#checkDrained();
  }

  /** Keeps destroy promises so close() can wait for them; their errors are not the caller's. */
  #track(destroying: Promise<void>): void {
    const tracked = destroying.then(
      () => undefined,
      () => undefined,
    );
    this.#destroying.add(tracked);
    void tracked.then(() => this.#destroying.delete(tracked));
  }

  /** Idle ones close now, busy ones on return. */
  #softEvict(match: (entry: PoolEntry<C>) => boolean): number {
    let marked = 0;
    for (const entry of [...this.#bag.entries()]) {
      if (!match(entry) || entry.evictReason !== undefined) continue;
      marked++;
      if (entry.state === "idle") this.#destroy(entry, "evicted");
      else entry.evictReason = "evicted";
    }
    return marked;
  }

  // ---------------------------------------------------------------------------------------------
  // housekeeping

  #onClockLeap(lateMillis: number): void {
    this.#counters.clockLeaps++;
    for (const entry of this.#bag.idle) entry.needsPing = true;
    if (channels.clockLeap.hasSubscribers)
      channels.clockLeap.publish({ pool: this, jumpMillis: lateMillis });
  }

  #sweep(now: number): void {
    let open = this.#bag.size;
    // bottom of the stack first: the least recently used connections retire first
    for (const entry of [...this.#bag.idle]) {
      let reason = this.#unusableReason(entry, now);
      if (
        reason === undefined &&
        this.#o.idleTimeoutMillis > 0 &&
        now - entry.idleSince >= this.#o.idleTimeoutMillis &&
        open > this.#o.min
      ) {
        reason = "idle";
      }
      if (reason !== undefined) {
        this.#destroy(entry, reason);
        open--;
      }
    }
    this.#pump();
  }

  // ---------------------------------------------------------------------------------------------
  // closing

  async #close(timeoutMillis: number): Promise<CloseReport> {
    this.#state = "closing";
    untrackPool(this);
    this.#housekeeper.stop();
    this.#scheduler.cancel(this.#retry);
    const closed = new PoolClosedError(this.name);
    for (const waiter of this.#waiters.drain()) {
      waiter.queued = false;
      this.#settle(waiter);
      waiter.reject(closed);
    }
    // pre-pings in flight: their waiters are turned away, so the round trips are pointless
    for (const check of [...this.#checks]) {
      check.done = true;
      this.#checks.delete(check);
      this.#scheduler.cancel(check);
      check.controller.abort(closed);
      if (!check.waiter.settled) {
        this.#settle(check.waiter);
        check.waiter.reject(closed);
      }
      this.#destroy(check.entry, "shutdown");
    }
    for (const w of this.#warmups) w.reject(closed);
    this.#warmups = [];
    for (const attempt of this.#attempts) attempt.controller.abort(closed);
    for (const entry of [...this.#bag.idle]) this.#destroy(entry, "shutdown");

    let forced = false;
    const outstanding: OutstandingLease[] = [];
    if (this.#bag.size > 0 || this.#attempts.size > 0) {
      const drained = new Promise<void>((resolve) => {
        this.#drained = resolve;
      });
      let timer: unknown;
      const deadline = new Promise<"timeout">((resolve) => {
        // a plain (ref'd) timer: a pending close() should keep the process alive until it is done
        timer = this.#clock.setTimeout(() => resolve("timeout"), timeoutMillis);
      });
      const outcome = await Promise.race([drained, deadline]);
      this.#clock.clearTimeout(timer);
      if (outcome === "timeout") {
        const now = this.#clock.now();
        for (const entry of [...this.#bag.entries()]) {
          const lease = entry.lease;
          if (lease !== undefined) {
            forced = true;
            outstanding.push({
              connectionId: entry.id,
              heldMillis: now - lease.leasedAt,
              acquireStack: entry.acquireStack,
            });
            lease.revoked = true;
            entry.lease = undefined;
            this.#leaks.unwatch(lease as Lease<unknown>, now);
          }
          this.#destroy(entry, "shutdown");
        }
        for (const attempt of [...this.#attempts]) this.#finishAttempt(attempt);
      }
    }
    while (this.#destroying.size > 0) await Promise.all([...this.#destroying]);
    this.#scheduler.stop();
    this.#state = "closed";
    const report: CloseReport = { forced, leasesOutstanding: outstanding };
    if (channels.poolClose.hasSubscribers) {
      channels.poolClose.publish({ pool: this, forced, leasesOutstanding: outstanding.length });
    }
    return report;
  }

  #checkDrained(): void {
    if (this.#drained !== undefined && this.#bag.size === 0 && this.#attempts.size === 0) {
      const resolve = this.#drained;
      this.#drained = undefined;
      resolve();
    }
  }

  #publishAcquireFailed(
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

/** Creates a pool. Options are validated here: a bad one throws `InvalidOptionError`. */
export function createPool<C>(options: PoolOptions<C>): Pool<C> {
  return new Pool(options);
}
