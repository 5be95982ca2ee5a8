import type { Scheduler, Timed } from "./scheduler.js";

/** How often housekeeping runs. Idle and lifetime retirement happen within one interval. */
export const HOUSEKEEPING_INTERVAL_MILLIS = 1000;

/**
 * How late the tick must be for the pool to conclude the process did not run (frozen, suspended,
 * or starved): a whole interval. Under load a timer runs a few milliseconds late, not a second;
 * a process stopped for 2 s or more is always caught, from 1 s when the stop covered a tick's due
 * time. See docs/serverless.md.
 */
export const CLOCK_LEAP_MILLIS = HOUSEKEEPING_INTERVAL_MILLIS;

/** What housekeeping asks of the pool. @internal */
export interface HousekeepingHost {
  /** The tick ran `lateMillis` after it was due: the process was suspended or starved. */
  onClockLeap(lateMillis: number): void;
  /** Retire idle connections that are broken, expired or idle too long, then refill `min`. */
  sweep(now: number): void;
  /** From `at` on, a borrow finds the tick late by a leap: it then runs the tick first. */
  leapAt(at: number): void;
}

/**
 * The periodic tick, on the pool's one scheduler (so it shares the pool's single unref'd timer).
 * A tick that runs a whole interval late means time jumped: connections that sat idle through it
 * may have been cut by a firewall or a failover, so the host pings them before reuse.
 *
 * The tick alone comes too late after a thaw: the thawed process runs its I/O callbacks (the
 * request that borrows) and its timers in no set order, and the socket's end the server sent
 * meanwhile may be read after the borrow. So the host also compares each borrow's clock reading
 * with {@link HousekeepingHost.leapAt} (one comparison, no clock read of its own) and runs the
 * late tick at once ({@link runLate}) before lending anything.
 * @internal
 */
export class Housekeeper implements Timed {
  dueAt = 0;
  heapIndex = -1;
  readonly #scheduler: Scheduler;
  readonly #host: HousekeepingHost;

  constructor(scheduler: Scheduler, host: HousekeepingHost) {
    this.#scheduler = scheduler;
    this.#host = host;
  }

  start(now: number): void {
    this.#next(now);
  }

  stop(): void {
    this.#scheduler.cancel(this);
    this.#host.leapAt(Number.POSITIVE_INFINITY);
  }

  onDue(now: number): void {
    const late = now - this.dueAt;
    if (late >= CLOCK_LEAP_MILLIS) this.#host.onClockLeap(late);
    this.#next(now);
    this.#host.sweep(now);
  }

  /** A borrow found the tick a leap late: run it now rather than when its timer gets to it. */
  runLate(now: number): void {
    if (this.heapIndex === -1) return; // stopped
    this.#scheduler.cancel(this);
    this.onDue(now);
  }

  #next(now: number): void {
    const dueAt = now + HOUSEKEEPING_INTERVAL_MILLIS;
    this.#scheduler.schedule(this, dueAt);
    this.#host.leapAt(dueAt + CLOCK_LEAP_MILLIS);
  }
}
