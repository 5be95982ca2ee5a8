import type { PoolLike } from "./channels.js";
import { channels } from "./channels.js";
import type { PoolEntry } from "./entry.js";
import type { Scheduler } from "./scheduler.js";

/**
 * Reports leases held longer than the threshold, with the stack that acquired them, the way
 * HikariCP's ProxyLeakTask does. When the threshold is 0 nothing is captured or scheduled, so
 * leak detection costs nothing when off. With nobody subscribed to `lifeguard:pool:leak`, a leak
 * becomes a process warning, so a threshold that was set is never silently ignored. The watch is
 * the leased entry itself (see {@link PoolEntry}).
 * @internal
 */
export class LeakDetector {
  readonly #thresholdMillis: number;
  readonly #scheduler: Scheduler;
  readonly #pool: PoolLike;

  constructor(thresholdMillis: number, scheduler: Scheduler, pool: PoolLike) {
    this.#thresholdMillis = thresholdMillis;
    this.#scheduler = scheduler;
    this.#pool = pool;
  }

  /** The acquiring caller's stack, as an Error whose `stack` is formatted only if ever read. */
  capture(): Error | undefined {
    if (this.#thresholdMillis === 0) return undefined;
    return new Error("Connection acquired here");
  }

  watch(entry: PoolEntry<unknown>, now: number): void {
    entry.leaked = false;
    if (this.#thresholdMillis > 0) this.#scheduler.schedule(entry, now + this.#thresholdMillis);
  }

  /** The lease came back: stop watching, and say so if it had been reported. */
  unwatch(entry: PoolEntry<unknown>, now: number): void {
    if (this.#thresholdMillis === 0) return;
    this.#scheduler.cancel(entry);
    if (entry.leaked && channels.leakReturned.hasSubscribers) {
      channels.leakReturned.publish({
        pool: this.#pool,
        connectionId: entry.id,
        heldMillis: now - entry.leasedAt,
        stack: entry.acquireStack ?? "",
      });
    }
  }

  report(entry: PoolEntry<unknown>, now: number): void {
    entry.leaked = true;
    const heldMillis = now - entry.leasedAt;
    const stack = entry.acquireStack ?? "";
    if (channels.leak.hasSubscribers) {
      channels.leak.publish({ pool: this.#pool, connectionId: entry.id, heldMillis, stack });
      return;
    }
    process.emitWarning(
      `Pool "${this.#pool.name}": connection ${entry.id} has been held for ${Math.round(heldMillis)} ms without being released (leakDetectionThresholdMillis). Acquired at:\n${stack}`,
      { type: "LifeguardLeakWarning", code: "LIFEGUARD_LEAK" },
    );
  }
}
