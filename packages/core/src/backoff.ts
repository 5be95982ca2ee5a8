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

  constructor(random: () => number) {
    this.#random = random;
  }

  /** Records a failure at `now` and returns the delay before the next attempt. */
  recordFailure(now: number, error: unknown): number {
    this.failures++;
    this.lastError = error;
    const delay = backoffDelay(this.failures, this.#random());
    this.nextAttemptAt = now + delay;
    return delay;
  }

  recordSuccess(): void {
    this.failures = 0;
    this.lastError = undefined;
    this.nextAttemptAt = 0;
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
