/** Opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown;

/**
 * Where the pool reads time and arms its one timer. Inject a {@link ManualClock} in tests to move
 * time by hand instead of sleeping.
 */
export interface Clock {
  /** Monotonic milliseconds (any origin): never goes backwards with the wall clock. */
  now(): number;
  /** Arms a one-shot timer; the pool calls `unref()` on the handle when it has one. */
  setTimeout(callback: () => void, delayMillis: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

// captured once: `performance` is a lazy global getter, and now() runs twice per lease
const perf = globalThis.performance;

export const systemClock: Clock = {
  now: () => perf.now(),
  setTimeout: (callback, delayMillis) => setTimeout(callback, delayMillis),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Reads of the system clock that may share one `performance.now()` within an event-loop turn: at
 * most {@link SHARED_READS} reads reuse a reading, and the first reading of a turn schedules its
 * own expiry on `setImmediate`, so a reading never outlives the turn it was taken in. An acquire
 * and a release in one burst of promise callbacks then cost one clock read instead of two; what
 * they time (waits, holds, idle periods) may read short by the length of the current turn.
 * Deadlines stay exact: the scheduler reads the system clock itself.
 */
export const SHARED_READS = 32;

let sharedNow = 0;
let reusesLeft = 0;
let expiring = false;
function expire(): void {
  reusesLeft = 0;
  expiring = false;
}

/** @internal */
export const turnClock: Clock = {
  now() {
    if (reusesLeft > 0) {
      reusesLeft--;
      return sharedNow;
    }
    sharedNow = perf.now();
    reusesLeft = SHARED_READS;
    if (!expiring) {
      expiring = true;
      setImmediate(expire).unref();
    }
    return sharedNow;
  },
  setTimeout: systemClock.setTimeout,
  clearTimeout: systemClock.clearTimeout,
};
