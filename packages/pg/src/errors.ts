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

/**
 * No host of a multi-host pool matches its `target_session_attrs` (a failover in progress, or
 * every host down): the connect fails and the pool tries again. `cause` is the last connect error
 * when every host refused.
 */
export class NoMatchingHostError extends Error {
  override readonly name = "NoMatchingHostError";
  readonly code = "LIFEGUARD_NO_MATCHING_HOST" as const;
}

/**
 * A new session landed on a host whose role changed since it was learned (a primary that is now a
 * standby): it is closed before anything runs on it, and the pool connects again.
 */
export class HostRoleMismatchError extends Error {
  override readonly name = "HostRoleMismatchError";
  readonly code = "LIFEGUARD_HOST_ROLE_MISMATCH" as const;
}

/**
 * A client borrowed from `cluster.reader` was asked to run a statement that is not provably
 * read-only: it is refused before anything is sent. Borrow from `cluster.writer` for work that
 * writes (a transaction that writes belongs there whole).
 */
export class WriteOnReaderError extends Error {
  override readonly name = "WriteOnReaderError";
  readonly code = "LIFEGUARD_WRITE_ON_READER" as const;
}
