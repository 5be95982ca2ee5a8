import { Deadline } from "./deadline.js";
import type { Lease } from "./lease.js";

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

// one executor for every waiter (no closure per acquire): the constructor reads what it captured
let capturedResolve: ((lease: Lease<unknown>) => void) | undefined;
let capturedReject: ((error: Error) => void) | undefined;
function capture(resolve: (lease: Lease<unknown>) => void, reject: (error: Error) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** The promise the next {@link Waiter} settles: make it, then construct the waiter at once. */
export function waiterPromise<C>(): Promise<Lease<C>> {
  return new Promise<Lease<C>>(capture as never);
}

/** A caller waiting for a connection; it settles the promise made just before it. @internal */
export class Waiter<C> extends Deadline {
  state: WaiterState = "queued";
  /**
   * Has its own entry in the scheduler. Waiters with the pool's default timeout do not: they are
   * due in queue order, so one deadline for the oldest of them covers them all.
   */
  ownDeadline = false;
  readonly resolve: (lease: Lease<C>) => void;
  readonly reject: (error: Error) => void;
  readonly owner: WaiterOwner<C>;
  /**
   * Its timeout; with {@link dueAt} it gives {@link startedAt} (a small integer is stored inline,
   * a second timestamp would be one more heap number per waiter).
   */
  readonly timeoutMillis: number;
  readonly acquireError: Error | undefined;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined = undefined;

  constructor(
    owner: WaiterOwner<C>,
    dueAt: number,
    timeoutMillis: number,
    acquireError: Error | undefined,
    signal: AbortSignal | undefined,
  ) {
    super();
    this.dueAt = dueAt;
    this.resolve = capturedResolve as (lease: Lease<C>) => void;
    this.reject = capturedReject as (error: Error) => void;
    capturedResolve = undefined;
    capturedReject = undefined;
    this.owner = owner;
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

  onDue(now: number): void {
    this.owner[kWaiterDue](this, now, "timeout");
  }
}
