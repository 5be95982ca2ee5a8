import type { PoolStats } from "./stats.js";

/** Brand shared by every copy of this package (ESM and CJS builds, duplicate installs). */
const kCode = Symbol.for("lifeguard.error.code");

/** Stable error codes: match on `code`, never on the message text. */
export type LifeguardErrorCode =
  | "LIFEGUARD_ACQUIRE_TIMEOUT"
  | "LIFEGUARD_ACQUIRE_ABORTED"
  | "LIFEGUARD_QUEUE_FULL"
  | "LIFEGUARD_DB_UNAVAILABLE"
  | "LIFEGUARD_POOL_CLOSED"
  | "LIFEGUARD_INVALID_OPTION"
  | "LIFEGUARD_LEASE_RELEASED"
  | "LIFEGUARD_CONNECTION_BUDGET"
  | "LIFEGUARD_CONNECT_TIMEOUT"
  | "LIFEGUARD_PING_TIMEOUT";

/**
 * Base class of every error the pool throws. `instanceof` works across duplicate copies of the
 * package because it checks a `Symbol.for` brand instead of the prototype chain.
 */
export class LifeguardError extends Error {
  static readonly code: LifeguardErrorCode | undefined = undefined;
  readonly code: LifeguardErrorCode;

  constructor(code: LifeguardErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    Object.defineProperty(this, kCode, { value: code, enumerable: false });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== "object" || value === null) return false;
    const code = (value as { [kCode]?: unknown })[kCode];
    if (typeof code !== "string") return false;
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass being tested against
    const wanted = (this as typeof LifeguardError).code;
    return wanted === undefined || wanted === code;
  }
}

/** No connection became available before the acquire deadline. */
export class AcquireTimeoutError extends LifeguardError {
  static override readonly code = "LIFEGUARD_ACQUIRE_TIMEOUT" as const;
  override readonly name = "AcquireTimeoutError";
  /** How long the caller waited, in milliseconds. */
  readonly waitedMillis: number;
  /** The pool's state when the deadline passed. */
  readonly stats: PoolStats;

  constructor(waitedMillis: number, stats: PoolStats, cause: unknown) {
    const state = `total=${stats.total}, idle=${stats.idle}, used=${stats.used}, pending=${stats.pending}, max=${stats.max}`;
    const hint =
      cause !== undefined
        ? `new connections are failing (last error: ${messageOf(cause)}); check that the database is reachable`
        : stats.total >= stats.max
          ? "every connection is in use: raise `max`, shorten the work done while holding a connection, or look for leases that are never released (set `leakDetectionThresholdMillis`)"
          : "connections are being opened or checked; if this persists the database may be slow to accept connections";
    super(
      "LIFEGUARD_ACQUIRE_TIMEOUT",
      `Timed out after ${Math.round(waitedMillis)} ms waiting for a connection from pool "${stats.name}" (${state}): ${hint}.`,
      cause === undefined ? undefined : { cause },
    );
    this.waitedMillis = waitedMillis;
    this.stats = stats;
  }
}

/** The caller's AbortSignal fired before a connection was handed out. */
export class AcquireAbortedError extends LifeguardError {
  static override readonly code = "LIFEGUARD_ACQUIRE_ABORTED" as const;
  override readonly name = "AbortError";
  constructor(poolName: string, reason: unknown) {
    super(
      "LIFEGUARD_ACQUIRE_ABORTED",
      `Acquiring a connection from pool "${poolName}" was aborted by the caller's signal.`,
      { cause: reason },
    );
  }
}

/** The wait queue already holds `maxWaiting` callers. */
export class PoolQueueFullError extends LifeguardError {
  static override readonly code = "LIFEGUARD_QUEUE_FULL" as const;
  override readonly name = "PoolQueueFullError";
  constructor(poolName: string, maxWaiting: number) {
    super(
      "LIFEGUARD_QUEUE_FULL",
      `Pool "${poolName}" already has ${maxWaiting} callers waiting (maxWaiting): shed load upstream or raise \`maxWaiting\`/\`max\`.`,
    );
  }
}

/** No connection can be opened and none is idle: fail fast instead of waiting out the deadline. */
export class DatabaseUnavailableError extends LifeguardError {
  static override readonly code = "LIFEGUARD_DB_UNAVAILABLE" as const;
  override readonly name = "DatabaseUnavailableError";
  /** When the pool will next try to connect, in milliseconds from when the error was made. */
  readonly retryInMillis: number;
  constructor(poolName: string, cause: unknown, retryInMillis: number) {
    super(
      "LIFEGUARD_DB_UNAVAILABLE",
      `Pool "${poolName}" cannot connect to the database: ${messageOf(cause)} (next attempt in ${Math.round(retryInMillis)} ms; acquires fail at once until a connection succeeds).`,
      { cause },
    );
    this.retryInMillis = retryInMillis;
  }
}

/** The pool is closing or closed. */
export class PoolClosedError extends LifeguardError {
  static override readonly code = "LIFEGUARD_POOL_CLOSED" as const;
  override readonly name = "PoolClosedError";
  constructor(poolName: string) {
    super(
      "LIFEGUARD_POOL_CLOSED",
      `Pool "${poolName}" is closed: it no longer hands out connections. Create a new pool, or stop using this one before closing it.`,
    );
  }
}

/** An option failed validation at construction. */
export class InvalidOptionError extends LifeguardError {
  static override readonly code = "LIFEGUARD_INVALID_OPTION" as const;
  override readonly name = "InvalidOptionError";
  /** The option's name as the caller spelled it (dotted for nested options). */
  readonly option: string;
  constructor(option: string, message: string) {
    super("LIFEGUARD_INVALID_OPTION", message);
    this.option = option;
  }
}

/** `release()` was called on a lease that was already released (or whose pool took it back). */
export class LeaseReleasedError extends LifeguardError {
  static override readonly code = "LIFEGUARD_LEASE_RELEASED" as const;
  override readonly name = "LeaseReleasedError";
  constructor(poolName: string) {
    super(
      "LIFEGUARD_LEASE_RELEASED",
      `This connection was already released to pool "${poolName}"; releasing it again would hand back a connection another caller may now hold. Release each lease exactly once.`,
    );
  }
}

/** The pools of every instance together would need more connections than the server allows. */
export class ConnectionBudgetError extends LifeguardError {
  static override readonly code = "LIFEGUARD_CONNECTION_BUDGET" as const;
  override readonly name = "ConnectionBudgetError";
  /** Connections the fleet may open: instances × max. */
  readonly needed: number;
  /** Connections the server allows the fleet (after reserved slots). */
  readonly available: number;
  /** With several hosts (cluster mode): the host (`address:port`) over budget; else undefined. */
  readonly host: string | undefined;
  constructor(message: string, needed: number, available: number, host?: string) {
    super("LIFEGUARD_CONNECTION_BUDGET", message);
    this.needed = needed;
    this.available = available;
    this.host = host;
  }
}

/**
 * Opening a connection took longer than the acquire deadline. Reaches callers as the `cause` of
 * `AcquireTimeoutError`/`DatabaseUnavailableError`, and in `connection:create-error` events.
 */
export class ConnectTimeoutError extends LifeguardError {
  static override readonly code = "LIFEGUARD_CONNECT_TIMEOUT" as const;
  override readonly name = "ConnectTimeoutError";
  readonly timeoutMillis: number;
  constructor(poolName: string, timeoutMillis: number) {
    super(
      "LIFEGUARD_CONNECT_TIMEOUT",
      `connect timed out after ${timeoutMillis} ms (pool "${poolName}"): the database did not accept the connection in time (acquireTimeoutMillis).`,
    );
    this.timeoutMillis = timeoutMillis;
  }
}

/** A pre-ping round trip took longer than `prePing.timeoutMillis`: the abort reason of the ping. */
export class PingTimeoutError extends LifeguardError {
  static override readonly code = "LIFEGUARD_PING_TIMEOUT" as const;
  override readonly name = "PingTimeoutError";
  readonly timeoutMillis: number;
  constructor(poolName: string, timeoutMillis: number) {
    super(
      "LIFEGUARD_PING_TIMEOUT",
      `pre-ping timed out after ${timeoutMillis} ms (pool "${poolName}"): the connection is replaced (prePing.timeoutMillis).`,
    );
    this.timeoutMillis = timeoutMillis;
  }
}

export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
