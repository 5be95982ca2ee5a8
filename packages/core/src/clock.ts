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
