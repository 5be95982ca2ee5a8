import type { PoolLike } from "./channels.js";
import { channels } from "./channels.js";
import type { Lease } from "./lease.js";
import type { Scheduler } from "./scheduler.js";

/**
 * Reports leases held longer than the threshold, with the stack that acquired them, the way
 * HikariCP's ProxyLeakTask does. When the threshold is 0 nothing is captured or scheduled, so
 * leak detection costs nothing when off. With nobody subscribed to `lifeguard:pool:leak`, a leak
 * becomes a process warning, so a threshold that was set is never silently ignored.
 * @internal
 */
export class LeakDetector {
  readonly #thresholdMillis: number;
  readonly #scheduler: Scheduler;
  readonly #pool: PoolLike;
  /** Leaks reported so far. */
  count = 0;

  constructor(thresholdMillis: number, scheduler: Scheduler, pool: PoolLike) {
    this.#thresholdMillis = thresholdMillis;
    this.#scheduler = scheduler;
    this.#pool = pool;
  }

  get enabled(): boolean {
    return this.#thresholdMillis > 0;
  }

  /** The acquiring caller's stack, as an Error whose `stack` is formatted only if ever read. */
  capture(): Error | undefined {
    if (this.#thresholdMillis === 0) return undefined;
    return new Error("Connection acquired here");
  }

  watch(lease: Lease<unknown>, now: number): void {
    if (this.#thresholdMillis > 0) this.#scheduler.schedule(lease, now + this.#thresholdMillis);
  }

  /** The lease came back: stop watching, and say so if it had been reported. */
  unwatch(lease: Lease<unknown>, now: number): void {
    if (this.#thresholdMillis === 0) return;
    this.#scheduler.cancel(lease);
    if (lease.leaked && channels.leakReturned.hasSubscribers) {
      channels.leakReturned.publish({
        pool: this.#pool,
        connectionId: lease.entry.id,
        heldMillis: now - lease.leasedAt,
        stack: lease.entry.acquireStack ?? "",
      });
    }
  }

  report(lease: Lease<unknown>, now: number): void {
    if (lease.released) return;
    lease.leaked = true;
    this.count++;
    const heldMillis = now - lease.leasedAt;
    const stack = lease.entry.acquireStack ?? "";
    if (channels.leak.hasSubscribers) {
      channels.leak.publish({ pool: this.#pool, connectionId: lease.entry.id, heldMillis, stack });
      return;
    }
    process.emitWarning(
      `Pool "${this.#pool.name}": connection ${lease.entry.id} has been held for ${Math.round(heldMillis)} ms without being released (leakDetectionThresholdMillis). Acquired at:\n${stack}`,
      { type: "LifeguardLeakWarning", code: "LIFEGUARD_LEAK" },
    );
  }
}
