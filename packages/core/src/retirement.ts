import type { ErrorClass } from "./connector.js";
import type { DestroyReason, PoolEntry } from "./entry.js";

/**
 * When a connection must leave the pool: pure decisions over an entry's record and the facts the
 * pool gathered (the connector's local check, the borrower's error class). No I/O, no state
 * changes: the pool acts on the reason returned. See docs/architecture.md ("Life of a connection").
 */

/** Why an idle connection must not be lent, if it must not. */
export function unusableReason(
  entry: PoolEntry<unknown>,
  broken: boolean,
  now: number,
): DestroyReason | undefined {
  if (broken) return "broken";
  if (entry.evictReason !== undefined) return entry.evictReason;
  if (now >= entry.expiresAt) return entry.expiryReason;
  return undefined;
}

/**
 * Why a connection coming back from a borrower must be closed instead of reused, if it must.
 * (Positional arguments, not an object of facts: this runs on every release.)
 *
 * @param destroyRequested the borrower asked for it: `release({ destroy: true })`
 * @param errorClass how the borrower's error classified; undefined when it passed none
 * @param broken the connector's free local check
 */
export function retireReason(
  entry: PoolEntry<unknown>,
  poolOpen: boolean,
  destroyRequested: boolean,
  errorClass: ErrorClass | "unknown" | undefined,
  broken: boolean,
  maxUses: number,
  now: number,
): DestroyReason | undefined {
  if (!poolOpen) return "shutdown";
  if (destroyRequested) return "released-destroy";
  // a connection error: failover, restart; "unknown": cannot tell whether it is alive
  if (errorClass === "connection" || errorClass === "unknown") return "error";
  if (broken) return "broken";
  if (entry.evictReason !== undefined) return entry.evictReason;
  if (now >= entry.expiresAt) return entry.expiryReason;
  if (entry.uses >= maxUses) return "max-uses";
  return undefined;
}

/** Idle past `idleTimeoutMillis` (0 = never); the pool also keeps `min` open. */
export function idleExpired(
  entry: PoolEntry<unknown>,
  idleTimeoutMillis: number,
  now: number,
): boolean {
  return idleTimeoutMillis > 0 && now - entry.idleSince >= idleTimeoutMillis;
}

/**
 * How many connections at the bottom of the idle stack (`idle[0]` has been idle the longest) have
 * sat past `idleTimeoutMillis` and may close, keeping `min` open; they close oldest first.
 */
export function idleExpiredCount(
  idle: readonly PoolEntry<unknown>[],
  open: number,
  min: number,
  idleTimeoutMillis: number,
  now: number,
): number {
  let count = 0;
  while (count < idle.length && open - count > min) {
    if (!idleExpired(idle[count] as PoolEntry<unknown>, idleTimeoutMillis, now)) break;
    count++;
  }
  return count;
}

/**
 * The housekeeping sweep's verdict on an idle connection: what {@link unusableReason} says, else
 * `idle` when it sat past `idleTimeoutMillis` and closing it keeps `min` open.
 */
export function sweepReason(
  entry: PoolEntry<unknown>,
  broken: boolean,
  aboveMin: boolean,
  idleTimeoutMillis: number,
  now: number,
): DestroyReason | undefined {
  const reason = unusableReason(entry, broken, now);
  if (reason !== undefined) return reason;
  return aboveMin && idleExpired(entry, idleTimeoutMillis, now) ? "idle" : undefined;
}

/**
 * Whether lending needs a round trip first (pre-ping on): the entry is suspect, or it was last
 * proven good `bypassWindowMillis` or longer ago (0 pings every borrow).
 */
export function needsPing(
  entry: PoolEntry<unknown>,
  prePing: { readonly bypassWindowMillis: number },
  now: number,
): boolean {
  return entry.needsPing || now - entry.lastUsedAt >= prePing.bypassWindowMillis;
}

/**
 * When a connection opened at `now` must retire: negative jitter only, so none outlives
 * `maxLifetimeSeconds` nor the connector's cap (`capAt`, when the credentials it opened with
 * expire), and they never expire together. Infinity when the lifetime is 0 and nothing caps it.
 */
export function expiryFor(
  now: number,
  maxLifetimeSeconds: number,
  jitter: number,
  random: () => number,
  capAt = Number.POSITIVE_INFINITY,
): number {
  const configured =
    maxLifetimeSeconds === 0 ? Number.POSITIVE_INFINITY : maxLifetimeSeconds * 1000;
  const lifetime = Math.min(configured, capAt - now);
  if (lifetime === Number.POSITIVE_INFINITY) return lifetime;
  if (lifetime <= 0) return now;
  return now + lifetime * (1 - jitter * random());
}

/**
 * A soft retirement spread over `spreadMillis` (`evict({ spreadMillis })`): the moment, between
 * now and the end of the window, at which a connection retires, unless it expires sooner anyway.
 */
export function spreadExpiry(
  entry: PoolEntry<unknown>,
  spreadMillis: number,
  random: () => number,
  now: number,
): boolean {
  const at = now + spreadMillis * random();
  if (at >= entry.expiresAt) return false;
  entry.expiresAt = at;
  entry.expiryReason = "evicted";
  return true;
}
