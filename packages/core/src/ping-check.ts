import type { ConnectorContext } from "./connector.js";
import { Attempt } from "./deadline.js";
import type { PoolEntry } from "./entry.js";
import type { Waiter } from "./waiter.js";

/**
 * A pre-ping in flight (stage 3, see docs/architecture.md), for one waiter, bounded by
 * `prePing.timeoutMillis`; its context carries its own abort signal.
 * @internal
 */
export class PingCheck<C> extends Attempt {
  readonly entry: PoolEntry<C>;
  readonly waiter: Waiter<C>;
  readonly context: ConnectorContext;
  readonly #onTimeout: (check: PingCheck<C>) => void;
  constructor(
    entry: PoolEntry<C>,
    waiter: Waiter<C>,
    startedAt: number,
    base: ConnectorContext,
    onTimeout: (check: PingCheck<C>) => void,
  ) {
    super(startedAt);
    this.entry = entry;
    this.waiter = waiter;
    this.context = { signal: this.controller.signal, clock: base.clock, poolName: base.poolName };
    this.#onTimeout = onTimeout;
  }
  onDue(): void {
    this.#onTimeout(this);
  }
}
