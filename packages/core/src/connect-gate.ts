import { ConnectBackoff } from "./backoff.js";
import { Attempt } from "./deadline.js";
import type { PoolEntry } from "./entry.js";

/**
 * Where the connector reports that an open connection died on its own: the pool's entry once it
 * is open. Apart from the attempt, so that an open connection's report callback does not keep the
 * finished attempt (its deadline and AbortController) alive for the connection's whole life.
 * @internal
 */
export class LostSlot {
  entry: PoolEntry<unknown> | undefined = undefined;
}

/** A connect in flight, with its deadline. @internal */
export class ConnectAttempt extends Attempt {
  readonly slot = new LostSlot();
  readonly #onTimeout: (attempt: ConnectAttempt) => void;
  constructor(startedAt: number, onTimeout: (attempt: ConnectAttempt) => void) {
    super(startedAt);
    this.#onTimeout = onTimeout;
  }
  onDue(): void {
    this.#onTimeout(this);
  }
}

/**
 * Decides whether the pool may open a connection now (HikariCP's PoolEntryCreator, as policy
 * only): the connects in flight, the backoff after failures, the circuit that makes acquires fail
 * fast while nothing can be opened, and the last failure (the `cause` of those errors). Knows
 * nothing about waiters or connections; the pool acts on what it answers.
 * @internal
 */
export class ConnectGate {
  readonly attempts = new Set<ConnectAttempt>();
  readonly #backoff: ConnectBackoff;
  circuitOpen = false;

  constructor(random: () => number) {
    this.#backoff = new ConnectBackoff(random);
  }

  /** Consecutive failed connects; 0 once one succeeds. */
  get failures(): number {
    return this.#backoff.failures;
  }

  get lastError(): unknown {
    return this.#backoff.lastError;
  }

  /** When the backoff allows the next attempt, on the pool's clock. */
  get nextAttemptAt(): number {
    return this.#backoff.nextAttemptAt;
  }

  begin(attempt: ConnectAttempt): void {
    this.attempts.add(attempt);
  }

  /** Marks the attempt settled; false when it already was (a late outcome to ignore). */
  finish(attempt: ConnectAttempt): boolean {
    if (attempt.done) return false;
    attempt.done = true;
    this.attempts.delete(attempt);
    return true;
  }

  /** A connect succeeded: the database answers. Returns true when that closed the circuit. */
  succeeded(): boolean {
    this.#backoff.recordSuccess();
    if (!this.circuitOpen) return false;
    this.circuitOpen = false;
    return true;
  }

  /** A connect failed because of the database (not the application). Returns the retry delay. */
  failed(attempt: ConnectAttempt, now: number, error: unknown): number {
    return this.#backoff.recordFailure(now, error, attempt.startedAt);
  }

  /**
   * With connects failing and nothing open or opening, waiting is pointless: returns true when the
   * circuit opens now (the pool then fails its waiters fast).
   */
  shouldOpenCircuit(openConnections: number): boolean {
    if (this.circuitOpen || this.#backoff.failures === 0 || openConnections > 0) return false;
    if (this.attempts.size > 0) return false;
    this.circuitOpen = true;
    return true;
  }

  /**
   * How many of the `wanted` connects may start at `now`: while the database is failing, one at a
   * time on the backoff schedule. Returns 0 with {@link nextAttemptAt} in the future when the pool
   * must wait for it.
   */
  allowed(wanted: number, now: number): number {
    if (this.#backoff.failures === 0) return wanted;
    if (this.attempts.size > 0 || now < this.#backoff.nextAttemptAt) return 0;
    return 1;
  }

  /**
   * How many connects to start now for `waiting` callers and to keep `min`, within `max` and the
   * backoff. Connects in flight and sessions being cleaned count as supply for the callers.
   * Returns -1 when connects are wanted but the backoff holds them until {@link nextAttemptAt}.
   *
   * @param open connections open (not destroyed); `releasing` of them are being cleaned
   * @param minHeld a connect for `min` just failed with the application's error: do not refill
   */
  plan(
    waiting: number,
    open: number,
    releasing: number,
    min: number,
    max: number,
    minHeld: boolean,
    now: number,
  ): number {
    const creating = this.attempts.size;
    const forMin = minHeld ? 0 : min - open - creating;
    let wanted = Math.max(waiting - creating - releasing, forMin);
    if (this.circuitOpen && creating === 0) wanted = Math.max(wanted, 1); // keep probing
    const room = max - open - creating;
    const count = this.allowed(Math.min(wanted, room), now);
    if (count > 0) return count;
    return wanted > 0 && room > 0 && this.waiting(now) ? -1 : 0;
  }

  /** True while the backoff holds the next attempt back past `now`. */
  waiting(now: number): boolean {
    return (
      this.#backoff.failures > 0 && this.attempts.size === 0 && now < this.#backoff.nextAttemptAt
    );
  }
}
