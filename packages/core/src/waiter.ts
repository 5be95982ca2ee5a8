import { Deadline } from "./deadline.js";
import type { Lease } from "./lease.js";
import type { Scheduler } from "./scheduler.js";

/** What a waiter needs from its pool, keyed by a module-private symbol. @internal */
export const kWaiterDue = Symbol("lifeguard.waiterDue");

export interface WaiterOwner<C> {
  [kWaiterDue](waiter: Waiter<C>, now: number, why: "timeout" | "abort"): void;
}

/**
 * Where a waiter is:
 * - `queued`: in the pool's queue;
 * - `matched`: taken off the queue for a connection being pinged on its behalf;
 * - `settled`: resolved or rejected; nothing more happens to it.
 */
export type WaiterState = "queued" | "matched" | "settled";

// one executor for every waiter (no closure per acquire): `arm` reads what it captured
let capturedResolve: ((lease: Lease<unknown>) => void) | undefined;
let capturedReject: ((error: Error) => void) | undefined;
function capture(resolve: (lease: Lease<unknown>) => void, reject: (error: Error) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** The promise the next {@link Waiter} settles: make it, then arm a waiter at once. */
export function waiterPromise<C>(): Promise<Lease<C>> {
  return new Promise<Lease<C>>(capture as never);
}

/**
 * A caller waiting for a connection; it settles the promise made just before it was armed.
 * Records are reused (see {@link WaiterRecords}): every field is set by {@link arm}.
 * @internal
 */
export class Waiter<C> extends Deadline {
  state: WaiterState = "queued";
  /**
   * Has its own entry in the scheduler. Waiters with the pool's default timeout do not: they are
   * due in queue order, so one deadline for the oldest of them covers them all.
   */
  ownDeadline = false;
  resolve: ((lease: Lease<C>) => void) | undefined = undefined;
  reject: ((error: Error) => void) | undefined = undefined;
  readonly owner: WaiterOwner<C>;
  /**
   * Its timeout; with {@link dueAt} it gives {@link startedAt} (a small integer is stored inline,
   * a second timestamp would be one more heap number per waiter).
   */
  timeoutMillis = 0;
  acquireError: Error | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;

  constructor(owner: WaiterOwner<C>) {
    super();
    this.owner = owner;
  }

  /** Takes the promise made by {@link waiterPromise} just before, and the acquire's settings. */
  arm(
    dueAt: number,
    timeoutMillis: number,
    acquireError: Error | undefined,
    signal: AbortSignal | undefined,
  ): void {
    this.state = "queued";
    this.ownDeadline = false;
    this.dueAt = dueAt;
    this.resolve = capturedResolve as (lease: Lease<C>) => void;
    this.reject = capturedReject as (error: Error) => void;
    capturedResolve = undefined;
    capturedReject = undefined;
    this.timeoutMillis = timeoutMillis;
    this.acquireError = acquireError;
    this.signal = signal;
  }

  /** When it started waiting, on the pool's clock. */
  get startedAt(): number {
    return this.dueAt - this.timeoutMillis;
  }

  get settled(): boolean {
    return this.state === "settled";
  }

  /** Marks it settled and drops its own deadline and abort listener; the caller settles the promise. */
  settle(scheduler: Scheduler): void {
    this.state = "settled";
    if (this.ownDeadline) scheduler.cancel(this);
    const onAbort = this.onAbort;
    if (onAbort !== undefined) {
      this.signal?.removeEventListener("abort", onAbort);
      this.onAbort = undefined;
    }
  }

  onDue(now: number): void {
    this.owner[kWaiterDue](this, now, "timeout");
  }
}

/** Records kept for reuse; more than this many waiting at once are left to the collector. */
const MAX_FREE = 16;

/**
 * Waiter records for reuse, so a caller that waits allocates only its promise. A record comes back
 * only when nothing refers to it any more: it was taken off the queue (not skipped there lazily
 * after a timeout or abort), its deadline and abort listener are gone, and its ping, if any, has
 * finished. The pool gives one back right after handing it a connection; every other way out (a
 * rejection) leaves the record to the collector. Ordinary fields (no `#private`): it is on the
 * acquire path.
 * @internal
 */
export class WaiterRecords<C> {
  private readonly owner: WaiterOwner<C>;
  private readonly free: Waiter<C>[] = [];

  constructor(owner: WaiterOwner<C>) {
    this.owner = owner;
  }

  /** A record armed with the promise {@link waiterPromise} just made. */
  take(
    dueAt: number,
    timeoutMillis: number,
    acquireError: Error | undefined,
    signal: AbortSignal | undefined,
  ): Waiter<C> {
    const waiter = this.free.pop() ?? new Waiter<C>(this.owner);
    waiter.arm(dueAt, timeoutMillis, acquireError, signal);
    return waiter;
  }

  /** A settled record nothing refers to any more (see the class comment). */
  give(waiter: Waiter<C>): void {
    waiter.resolve = undefined;
    waiter.reject = undefined;
    waiter.acquireError = undefined;
    waiter.signal = undefined;
    if (this.free.length < MAX_FREE) this.free.push(waiter);
  }
}
