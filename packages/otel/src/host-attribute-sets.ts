import type { Attributes, Observable } from "@opentelemetry/api";

/**
 * The attribute sets each per-host instrument reported, for `instrumentLifeguard`. The SDK keeps
 * every attribute set an asynchronous instrument ever reported (cumulative temporality) at its last
 * value, so when a host's role changes the point under its old role would stay, with its old
 * connection count, and a sum over the hosts would count those connections twice. A set reported
 * before and not in this collection is reported with 0 (docs/metrics.md, "Per host"). Every
 * collection does so (not only the first after the change), so each of several readers sees it.
 * The sets are bounded: hosts × roles × states per pool.
 * @internal
 */
export class HostAttributeSets {
  readonly #all = new Map<Observable, Map<string, Attributes>>();

  /** `instrument` reported `attributes` in this collection. */
  seen(instrument: Observable, attributes: Attributes): void {
    let sets = this.#all.get(instrument);
    if (sets === undefined) {
      sets = new Map();
      this.#all.set(instrument, sets);
    }
    const key = keyOf(attributes);
    sets.set(key, attributes);
    this.#currentOf(instrument).add(key);
  }

  readonly #currentBy = new Map<Observable, Set<string>>();

  #currentOf(instrument: Observable): Set<string> {
    let current = this.#currentBy.get(instrument);
    if (current === undefined) {
      current = new Set();
      this.#currentBy.set(instrument, current);
    }
    return current;
  }

  /** Calls `zero` for every set reported before and not in this collection, then starts the next. */
  endCollection(zero: (instrument: Observable, attributes: Attributes) => void): void {
    for (const [instrument, sets] of this.#all) {
      const current = this.#currentBy.get(instrument);
      for (const [key, attributes] of sets) {
        if (current?.has(key) !== true) zero(instrument, attributes);
      }
    }
    this.#currentBy.clear();
  }
}

function keyOf(attributes: Attributes): string {
  return JSON.stringify(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : 1)));
}
