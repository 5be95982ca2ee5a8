/**
 * Cleaning a released session (ROLLBACK, reset, the replay of its set-up) took longer than its
 * bound: the connection is closed instead of being lent again. The borrower never sees it; it is
 * counted in `stats().connector.cleanupFailures`.
 */
export class SessionCleanupTimeoutError extends Error {
  override readonly name = "SessionCleanupTimeoutError";
  readonly code = "LIFEGUARD_CLEANUP_TIMEOUT" as const;
  readonly timeoutMillis: number;
  constructor(timeoutMillis: number) {
    super(`cleaning the session took over ${timeoutMillis} ms`);
    this.timeoutMillis = timeoutMillis;
  }
}
