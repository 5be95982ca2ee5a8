import type { Clock, TimerHandle } from "./clock.js";

interface ManualTimer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told to, for deterministic tests of time-based behaviour.
 *
 * ```ts
 * const clock = new ManualClock();
 * const pool = createPool({ connector, clock });
 * await clock.advance(10_000); // fires every timer due in the next 10 s, in order
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: ManualTimer[] = [];

  constructor(start = 1_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, delayMillis: number): TimerHandle {
    const timer: ManualTimer = {
      at: this.#now + Math.max(0, delayMillis),
      seq: this.#seq++,
      callback,
      cancelled: false,
    };
    this.#timers.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    if (handle !== null && typeof handle === "object") (handle as ManualTimer).cancelled = true;
  }

  /** Number of armed timers (cancelled ones excluded). */
  get pendingTimers(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /**
   * Moves time forward by `millis`, stopping at each due timer in order and letting promise
   * callbacks run between timers, as the event loop would.
   */
  async advance(millis: number): Promise<void> {
    const target = this.#now + millis;
    for (;;) {
      await settle();
      const next = this.#nextDue(target);
      if (next === undefined) break;
      this.#now = Math.max(this.#now, next.at);
      next.cancelled = true;
      next.callback();
    }
    this.#now = target;
    await settle();
  }

  /**
   * Jumps time forward without firing the timers on the way (a suspended process or a frozen
   * serverless instance), then fires everything that is now due.
   */
  async leap(millis: number): Promise<void> {
    this.#now += millis;
    await this.advance(0);
  }

  #nextDue(limit: number): ManualTimer | undefined {
    this.#timers = this.#timers.filter((t) => !t.cancelled);
    let best: ManualTimer | undefined;
    for (const t of this.#timers) {
      if (t.at > limit) continue;
      if (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}

/** Lets queued promise callbacks (and the I/O they finish) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
