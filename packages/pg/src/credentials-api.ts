/**
 * The `credentials` option's public types and its error. How the pool uses them (refresh ahead of
 * expiry, the lifetime cap, soft rotation) is in credentials.ts and docs/credentials.md.
 */

/** What a credentials provider returns: whom to log in as, with what, and until when. */
export interface Credentials {
  /** The role to log in as; the pool's `user` (or its connection string's) when omitted. */
  readonly user?: string;
  /** The password or token, sent only while it has not expired. */
  readonly password: string;
  /**
   * When the password stops working: a `Date` or epoch milliseconds (`Date.now()`'s scale).
   * Omitted: it does not expire, and the pool asks again every 5 minutes to pick up a rotation.
   */
  readonly expiresAt?: Date | number;
}

/** What the pool passes to a provider. */
export interface CredentialsContext {
  /** Aborts when the pool closes; a provider doing I/O should honour it. */
  readonly signal: AbortSignal;
}

/**
 * The `credentials` option: an async function the pool calls for the first connect, then in the
 * background ahead of each expiry. Calls never overlap.
 */
export type CredentialsProvider = (
  context: CredentialsContext,
) => Credentials | PromiseLike<Credentials>;

/**
 * No usable credentials: the provider failed (or returned something unusable) and the last good
 * ones have expired, or they expired before the server asked for them. The provider's error is
 * the `cause`. The acquire that needed a new connection fails with it; connections already open
 * keep serving.
 */
export class CredentialsUnavailableError extends Error {
  override readonly name = "CredentialsUnavailableError";
  readonly code = "LIFEGUARD_CREDENTIALS_UNAVAILABLE" as const;
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
  }
}
