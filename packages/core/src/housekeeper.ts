import type { Scheduler, Timed } from "./scheduler.js";

/** How often housekeeping runs. Idle and lifetime retirement happen within one interval. */
export const HOUSEKEEPING_INTERVAL_MILLIS = 1000;

/** What housekeeping asks of the pool. @internal */
export interface HousekeepingHost {
  /** The tick ran `lateMillis` after it was due: the process was suspended or starved. */
  onClockLeap(lateMillis: number): void;
  /** Retire idle connections that are broken, expired or idle too long, then refill `min`. */
  sweep(now: number): void;
}

/**
 * The periodic tick, on the pool's one scheduler (so it shares the pool's single unref'd timer).
 * A tick that runs a whole interval late means time jumped: connections that sat idle through it
 * may have been cut by a firewall or a failover, so the host pings them before reuse.
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
    this.#scheduler.schedule(this, now + HOUSEKEEPING_INTERVAL_MILLIS);
  }

  stop(): void {
    this.#scheduler.cancel(this);
  }

  onDue(now: number): void {
    const late = now - this.dueAt;
    if (late >= HOUSEKEEPING_INTERVAL_MILLIS) this.#host.onClockLeap(late);
    this.#host.sweep(now);
    this.#scheduler.schedule(this, now + HOUSEKEEPING_INTERVAL_MILLIS);
  }
}
