/** First retry delay after a failed connect. */
export const BACKOFF_INITIAL_MILLIS = 10;
/** Retry delays double up to this. */
export const BACKOFF_MAX_MILLIS = 5000;

/**
 * Connect failures and when to try again: exponential from 10 ms to 5 s with "equal jitter"
 * (each delay is drawn from [d/2, d]) so a fleet of pools does not retry in lockstep.
 * @internal
 */
export class ConnectBackoff {
  readonly #random: () => number;
  /** Consecutive failed connects; 0 once one succeeds. */
  failures = 0;
  lastError: unknown = undefined;
  nextAttemptAt = 0;
  /** When the last failure that counted was recorded. */
  #failedAt = Number.NEGATIVE_INFINITY;

  constructor(random: () => number) {
    this.#random = random;
  }

  /**
   * Records the failure, at `now`, of a connect started at `startedAt`, and returns the delay
   * before the next attempt. A connect that was already running when a failure was recorded (one
   * of a burst opened together) fails for the same reason: it counts as that failure, so a burst
   * of `max` connects refused at once does not jump the delay to its cap.
   */
  recordFailure(now: number, error: unknown, startedAt: number = now): number {
    this.lastError = error;
    if (startedAt <= this.#failedAt) return Math.max(0, this.nextAttemptAt - now);
    this.failures++;
    this.#failedAt = now;
    const delay = backoffDelay(this.failures, this.#random());
    this.nextAttemptAt = now + delay;
    return delay;
  }

  recordSuccess(): void {
    this.failures = 0;
    this.lastError = undefined;
    this.nextAttemptAt = 0;
    this.#failedAt = Number.NEGATIVE_INFINITY;
  }
}

/** Delay after the `failures`-th consecutive failure, for a jitter draw `r` in [0, 1). */
export function backoffDelay(failures: number, r: number): number {
  const ceiling = Math.min(
    BACKOFF_MAX_MILLIS,
    BACKOFF_INITIAL_MILLIS * 2 ** Math.min(failures - 1, 30),
  );
  return ceiling / 2 + (r * ceiling) / 2;
}
