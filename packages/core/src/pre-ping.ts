import type { PoolLike } from "./channels.js";
import type { Clock } from "./clock.js";
import type { ConnectorContext } from "./connector.js";
import type { PoolEntry } from "./entry.js";
import { PingTimeoutError } from "./errors.js";
import type { GuardedConnector } from "./guarded-connector.js";
import { PingCheck } from "./ping-check.js";
import { publishPing } from "./pool-events.js";
import { needsPing } from "./retirement.js";
import type { Scheduler } from "./scheduler.js";
import type { Counters } from "./stats.js";
import type { Waiter } from "./waiter.js";

export type PingResult = "ok" | "failed" | "timeout";

/**
 * The pre-ping stage of lending (see docs/architecture.md, "Life of a connection"): whether a
 * connection needs a round trip before it is lent (stages 1 and 2 are the free checks, run by the
 * pool), and the round trips in flight (stage 3), each for one waiter and bounded by
 * `prePing.timeoutMillis`. It counts and publishes every outcome, then hands it to the pool, which
 * decides what becomes of the connection and the waiter.
 *
 * Ordinary fields (no `#private`): {@link needed} runs on every borrow.
 * @internal
 */
export class PrePing<C> {
  /** Round trips in flight. */
  readonly checks = new Set<PingCheck<C>>();
  /**
   * A borrow reading the clock at or past this finds the housekeeping tick a leap late: the
   * process was frozen or starved, and no connection is lent without a ping until the pool has
   * run the late tick (see housekeeper.ts). Kept here, not on the pool, because {@link needed}
   * already runs on every borrow: the comparison costs no call of its own.
   */
  leapAt = Number.POSITIVE_INFINITY;
  private readonly options:
    | false
    | { readonly bypassWindowMillis: number; readonly timeoutMillis: number };
  private readonly pool: PoolLike;
  private readonly connector: GuardedConnector<C>;
  private readonly scheduler: Scheduler;
  private readonly clock: Clock;
  private readonly counters: Counters;
  private readonly context: ConnectorContext;
  private readonly onResult: (check: PingCheck<C>, result: PingResult, now: number) => void;
  private readonly onTimeout: (check: PingCheck<C>) => void;

  constructor(
    options: false | { readonly bypassWindowMillis: number; readonly timeoutMillis: number },
    pool: PoolLike,
    connector: GuardedConnector<C>,
    scheduler: Scheduler,
    clock: Clock,
    counters: Counters,
    context: ConnectorContext,
    onResult: (check: PingCheck<C>, result: PingResult, now: number) => void,
  ) {
    this.options = options;
    this.pool = pool;
    this.connector = connector;
    this.scheduler = scheduler;
    this.clock = clock;
    this.counters = counters;
    this.context = context;
    this.onResult = onResult;
    const timeoutMillis = options === false ? 0 : options.timeoutMillis;
    this.onTimeout = (check) =>
      this.finish(check, "timeout", new PingTimeoutError(pool.name, timeoutMillis));
  }

  /** Whether lending `entry` needs the round trip first; a skipped one counts as bypassed. */
  needed(entry: PoolEntry<C>, now: number): boolean {
    const options = this.options;
    if (options === false) return false;
    if (now >= this.leapAt || needsPing(entry as PoolEntry<unknown>, options, now)) return true;
    this.counters.pingBypassed++;
    return false;
  }

  /** Stage 3: pings `entry` (now `validating`) for `waiter`. */
  start(entry: PoolEntry<C>, waiter: Waiter<C>, now: number): void {
    const timeoutMillis = (this.options as { timeoutMillis: number }).timeoutMillis;
    const check = new PingCheck(entry, waiter, now, this.context, this.onTimeout);
    this.checks.add(check);
    this.scheduler.schedule(check, now + timeoutMillis);
    this.connector.ping(entry.connection, check.context).then(
      () => this.finish(check, "ok", undefined),
      (error: unknown) => this.finish(check, "failed", error),
    );
  }

  /** Waiters whose connection is being pinged and that still wait. */
  waiting(): number {
    let count = 0;
    for (const check of this.checks) if (!check.waiter.settled) count++;
    return count;
  }

  /** The pool is closing: stops every round trip and returns them (their waiters and entries). */
  abortAll(reason: Error): PingCheck<C>[] {
    const stopped = [...this.checks];
    for (const check of stopped) {
      check.done = true;
      this.scheduler.cancel(check);
      check.controller.abort(reason);
    }
    this.checks.clear();
    return stopped;
  }

  private finish(check: PingCheck<C>, result: PingResult, error: unknown): void {
    if (check.done) return;
    check.done = true;
    this.checks.delete(check);
    this.scheduler.cancel(check);
    const now = this.clock.now();
    if (result === "timeout") check.controller.abort(error);
    if (result === "ok") this.counters.pingOk++;
    else if (result === "failed") this.counters.pingFailed++;
    else this.counters.pingTimeout++;
    publishPing(this.pool, check.entry.id, result, now - check.startedAt, error);
    this.onResult(check, result, now);
  }
}
