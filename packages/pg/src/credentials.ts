import type { Clock } from "@lifeguard/core";
import type pg from "pg";
import type { Credentials, CredentialsProvider } from "./credentials-api.js";
import { CredentialsUnavailableError } from "./credentials-api.js";
import { setLoginUser } from "./pg-internals.js";

/**
 * The `credentials` option at work: one source per pool, shared by its connector and its LISTEN
 * connection. It fetches once for the first connect, then ahead of each expiry in the background,
 * so a connect takes the current credentials without waiting. The rules (docs/credentials.md):
 *
 * - refresh at 80% of the lifetime left when they arrived, or every 5 minutes when they do not
 *   expire; calls to the provider never overlap, and connects waiting for one share it;
 * - a failed refresh keeps the last good credentials until they expire and is retried with backoff
 *   (1 s doubling to 30 s, and never later than their expiry); after that, connects fail with
 *   `CredentialsUnavailableError` (the provider's error as its cause) until a fetch succeeds;
 * - an expired password is never sent: the client asks for it when the server asks, and it is
 *   checked then;
 * - a connect refused by the server's authentication drops the credentials it used, so the next
 *   connect fetches new ones (a password rotated before its announced expiry).
 */

/** Credentials as the pool holds them: expiry on the pool's clock. @internal */
export interface IssuedCredentials {
  readonly user: string | undefined;
  readonly password: string;
  /** On the pool's clock; Infinity when they do not expire. */
  readonly expiresAt: number;
  /** Bumped each time the user or the password changes. */
  readonly generation: number;
}

/** @internal */
export interface CredentialSourceOptions {
  readonly provider: CredentialsProvider;
  /** The pool's clock: expiry and refresh timers run on it. */
  readonly clock: Clock;
  /** Epoch milliseconds, to read `expiresAt` against (default `Date.now`). */
  readonly wallNow?: () => number;
  /** A refresh failed; `usable` says whether the last good credentials still serve. */
  readonly refreshFailed?: (error: CredentialsUnavailableError, usable: boolean) => void;
  /** The provider returned another user or password than before. */
  readonly rotated?: (previous: IssuedCredentials, next: IssuedCredentials) => void;
}

/** The share of the lifetime left at fetch after which the next refresh starts. */
export const REFRESH_AT_FRACTION = 0.8;
/** How often credentials that do not expire are fetched again, to pick up a rotation. */
export const REFRESH_WITHOUT_EXPIRY_MILLIS = 5 * 60_000;
export const RETRY_MIN_MILLIS = 1000;
export const RETRY_MAX_MILLIS = 30_000;
/**
 * The waits before each fetch that may replace refused credentials: about a second in all, so a
 * secret store that lags the server is waited for and a wrong password still fails soon.
 */
export const RENEW_DELAYS_MILLIS: readonly number[] = [0, 100, 300, 600];
/** The longest a timer can wait; longer refreshes are re-armed. */
const MAX_TIMER_MILLIS = 2_147_483_647;

/** @internal */
export class CredentialSource {
  readonly #o: CredentialSourceOptions;
  readonly #wallNow: () => number;
  readonly #closed = new AbortController();
  #current: IssuedCredentials | undefined;
  /** The current credentials were refused by the server: fetch before the next connect. */
  #refused = false;
  #fetching: Promise<IssuedCredentials> | undefined;
  #timer: unknown;
  #lastError: CredentialsUnavailableError | undefined;
  /** While a failure is recent, connects needing new credentials fail fast with it. */
  #retryAt = 0;
  #failures = 0;
  #generation = 0;
  /** Counters for `stats().connector`. */
  fetches = 0;
  fetchFailures = 0;
  rotations = 0;

  constructor(options: CredentialSourceOptions) {
    this.#o = options;
    this.#wallNow = options.wallNow ?? Date.now;
  }

  /**
   * Credentials to connect with now: the current ones while they have not expired, else a fetch
   * (shared with every connect waiting for it). Rejects with `CredentialsUnavailableError`.
   */
  get(): IssuedCredentials | Promise<IssuedCredentials> {
    const now = this.#o.clock.now();
    const current = this.#current;
    if (current !== undefined && !this.#refused && now < current.expiresAt) return current;
    if (this.#closed.signal.aborted) {
      return Promise.reject(new CredentialsUnavailableError("the pool is closed"));
    }
    if (this.#fetching === undefined && this.#lastError !== undefined && now < this.#retryAt) {
      return Promise.reject(this.#lastError);
    }
    return this.#fetch();
  }

  /** Whether the credentials a connection opened with are still the current ones. */
  isCurrent(issued: IssuedCredentials): boolean {
    return issued.generation === this.#generation;
  }

  /** The server refused `issued`: unless newer ones arrived meanwhile, fetch before the next connect. */
  refused(issued: IssuedCredentials): void {
    // by generation: a fetch that returned the same user and password again is refused with them
    if (this.#current?.generation === issued.generation) this.#refused = true;
  }

  /**
   * Credentials to retry a connect with, after the server refused `stale` (`'refused'`) or they
   * expired before pg sent them (`'expired'`): a refused login needs another user or password, an
   * expired one only a later expiry. A store updated just after the server (ALTER ROLE first, the
   * secret second) gets a few short tries; `undefined` when none helped, so the refusal stands.
   */
  async renew(
    stale: IssuedCredentials,
    why: "refused" | "expired",
    signal: AbortSignal,
  ): Promise<IssuedCredentials | undefined> {
    for (const delay of RENEW_DELAYS_MILLIS) {
      if (delay > 0 && !(await sleep(this.#o.clock, delay, signal))) return undefined;
      if (why === "refused") this.refused(stale);
      let fresh: IssuedCredentials;
      try {
        fresh = await raceAbort(this.get(), signal);
      } catch {
        // the provider failed (reported as a warning) or the connect was abandoned
        return undefined;
      }
      const usable =
        why === "refused"
          ? fresh.generation !== stale.generation
          : fresh.expiresAt > this.#o.clock.now();
      if (usable) return fresh;
    }
    return undefined;
  }

  /** The pool closed: no more refreshes, and a provider call in flight is told to stop. */
  close(): void {
    this.#closed.abort(new CredentialsUnavailableError("the pool is closed"));
    this.#cancelTimer();
  }

  #fetch(): Promise<IssuedCredentials> {
    if (this.#fetching !== undefined) return this.#fetching;
    this.#cancelTimer();
    this.fetches++;
    const fetching = Promise.resolve()
      .then(() => this.#o.provider({ signal: this.#closed.signal }))
      .then(
        (value) => this.#accept(value),
        (error: unknown) => {
          throw this.#failed(error);
        },
      )
      .finally(() => {
        this.#fetching = undefined;
      });
    this.#fetching = fetching;
    return fetching;
  }

  #accept(value: Credentials): IssuedCredentials {
    let issued: IssuedCredentials;
    try {
      issued = this.#issue(value);
    } catch (error) {
      throw this.#failed(error);
    }
    const previous = this.#current;
    this.#current = issued;
    this.#refused = false;
    this.#lastError = undefined;
    this.#failures = 0;
    if (!this.#closed.signal.aborted) {
      const now = this.#o.clock.now();
      const delay =
        issued.expiresAt === Number.POSITIVE_INFINITY
          ? REFRESH_WITHOUT_EXPIRY_MILLIS
          : (issued.expiresAt - now) * REFRESH_AT_FRACTION;
      this.#schedule(delay);
    }
    if (previous !== undefined && issued.generation !== previous.generation) {
      this.rotations++;
      this.#o.rotated?.(previous, issued);
    }
    return issued;
  }

  /** Checks what the provider returned and converts its expiry to the pool's clock. */
  #issue(value: Credentials): IssuedCredentials {
    if (value === null || typeof value !== "object") {
      throw new CredentialsUnavailableError(
        `the credentials provider returned ${value === null ? "null" : typeof value}; expected { user?, password, expiresAt? }`,
      );
    }
    const { user, password, expiresAt } = value;
    if (typeof password !== "string") {
      throw new CredentialsUnavailableError(
        `the credentials provider returned no password (a ${typeof password}); expected a string`,
      );
    }
    if (user !== undefined && (typeof user !== "string" || user === "")) {
      throw new CredentialsUnavailableError(
        "the credentials provider returned an invalid user; expected a non-empty string or none",
      );
    }
    const now = this.#o.clock.now();
    let at = Number.POSITIVE_INFINITY;
    if (expiresAt !== undefined) {
      const epoch = expiresAt instanceof Date ? expiresAt.getTime() : expiresAt;
      if (typeof epoch !== "number" || !Number.isFinite(epoch)) {
        throw new CredentialsUnavailableError(
          "the credentials provider returned an invalid expiresAt; expected a Date or epoch milliseconds",
        );
      }
      at = now + (epoch - this.#wallNow());
      if (at <= now) {
        throw new CredentialsUnavailableError(
          `the credentials provider returned credentials that expired at ${new Date(epoch).toISOString()}; they are never sent`,
        );
      }
    }
    const previous = this.#current;
    const same = previous !== undefined && previous.user === user && previous.password === password;
    if (!same && previous !== undefined) this.#generation++;
    return { user, password, expiresAt: at, generation: this.#generation };
  }

  #failed(error: unknown): CredentialsUnavailableError {
    const failure =
      error instanceof CredentialsUnavailableError
        ? error
        : new CredentialsUnavailableError(
            `the credentials provider failed: ${error instanceof Error ? error.message : String(error)}`,
            error,
          );
    this.fetchFailures++;
    this.#failures++;
    this.#lastError = failure;
    const now = this.#o.clock.now();
    const backoff = Math.min(RETRY_MAX_MILLIS, RETRY_MIN_MILLIS * 2 ** (this.#failures - 1));
    const current = this.#current;
    const usable = current !== undefined && !this.#refused && now < current.expiresAt;
    // while the last good ones serve, the retry comes before they expire
    const delay = usable ? Math.min(backoff, (current.expiresAt - now) / 2) : backoff;
    this.#retryAt = now + delay;
    if (!this.#closed.signal.aborted) this.#schedule(delay);
    this.#o.refreshFailed?.(failure, usable);
    return failure;
  }

  #schedule(delayMillis: number): void {
    this.#cancelTimer();
    const clock = this.#o.clock;
    const delay = Math.max(0, Math.min(delayMillis, MAX_TIMER_MILLIS));
    const rearm = delayMillis > MAX_TIMER_MILLIS;
    const handle = clock.setTimeout(() => {
      this.#timer = undefined;
      if (rearm) this.#schedule(delayMillis - MAX_TIMER_MILLIS);
      else void this.#fetch().catch(noop);
    }, delay);
    (handle as { unref?: () => void } | null)?.unref?.();
    this.#timer = handle;
  }

  #cancelTimer(): void {
    if (this.#timer === undefined) return;
    this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * Logs a client that has not connected yet in with `issued`: its user (over the connection
 * string's), and its password as the function pg calls when the server asks for it, which refuses
 * once they have expired.
 * @internal
 */
export function applyCredentials(client: pg.Client, issued: IssuedCredentials, clock: Clock): void {
  if (issued.user !== undefined) setLoginUser(client, issued.user);
  Object.defineProperty(client, "password", {
    configurable: true,
    enumerable: false,
    writable: true,
    value: () => {
      if (clock.now() >= issued.expiresAt) {
        throw new CredentialsUnavailableError(
          "the credentials expired while connecting, before the server asked for the password; they were not sent",
        );
      }
      return issued.password;
    },
  });
}

function noop(): void {}

/** Waits on the pool's clock; false when `signal` aborted first. */
function sleep(clock: Clock, millis: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clock.clearTimeout(handle);
      resolve(false);
    };
    const handle = clock.setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, millis);
    (handle as { unref?: () => void } | null)?.unref?.();
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** `value`, or a rejection with the abort reason once `signal` aborts. @internal */
export async function raceAbort<T>(value: T | Promise<T>, signal: AbortSignal): Promise<T> {
  if (!(value instanceof Promise)) return value;
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      value,
      new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
  }
}
