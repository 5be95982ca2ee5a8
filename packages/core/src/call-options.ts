import { checkNumber, numberOptions } from "./options.js";

// The options of single calls (`acquire`, `evict`, `close`), checked by the same rules as the
// pool's options: a bad value is an `InvalidOptionError` naming the option and its range, before
// anything happens. (Not a doc comment marked internal: the declaration build would strip the
// public `AcquireOptions` below with it, since it reads every comment above a declaration.)

/** Per-call acquire settings. */
export interface AcquireOptions {
  /** Give up when this signal aborts (`AcquireAbortedError`). */
  signal?: AbortSignal;
  /** This call's deadline instead of `acquireTimeoutMillis`. */
  timeoutMillis?: number;
}

/** Per-call eviction settings. */
export interface EvictOptions {
  /** Only connections at least this many milliseconds old; every connection when absent. */
  olderThan?: number;
  /**
   * Retire each one at a random moment within this many milliseconds instead of at once (idle) or
   * on return (busy), so a fleet of connections is not replaced in one burst. Default 0.
   */
  spreadMillis?: number;
}

/** `acquire({ timeoutMillis })`, checked like `acquireTimeoutMillis`. */
export function acquireTimeout(timeoutMillis: number): number {
  return checkNumber("timeoutMillis", timeoutMillis, numberOptions.acquireTimeoutMillis);
}

/** `close({ timeoutMillis })`, checked like `shutdownTimeoutMillis`; the pool's when absent. */
export function closeTimeout(
  options: { timeoutMillis?: number } | undefined,
  fallback: number,
): number {
  if (options?.timeoutMillis === undefined) return fallback;
  return checkNumber("timeoutMillis", options.timeoutMillis, numberOptions.shutdownTimeoutMillis);
}

const olderThanRule = {
  kind: "number",
  min: 0,
  max: Number.MAX_SAFE_INTEGER,
  default: 0,
  description: "",
} as const;

/** `evict({ olderThan })`: the minimum age in milliseconds, 0 (every connection) when absent. */
export function evictAge(options: { olderThan?: number } | undefined): number {
  return options?.olderThan === undefined
    ? 0
    : checkNumber("olderThan", options.olderThan, olderThanRule);
}

const spreadRule = { ...olderThanRule, max: 2_147_483_647 } as const;

/** `evict({ spreadMillis })`: the window soft retirements are spread over, 0 (at once) when absent. */
export function evictSpread(options: { spreadMillis?: number } | undefined): number {
  return options?.spreadMillis === undefined
    ? 0
    : checkNumber("spreadMillis", options.spreadMillis, spreadRule);
}
