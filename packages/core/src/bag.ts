import type { EntryState, PoolEntry } from "./entry.js";

/** allowed[from][to]: the life cycle as a table, looked up on every move. */
const allowed: Readonly<Record<EntryState, Readonly<Record<EntryState, boolean>>>> = {
  idle: { idle: false, validating: true, leased: true, releasing: false, destroyed: true },
  validating: { idle: true, validating: false, leased: true, releasing: false, destroyed: true },
  leased: { idle: true, validating: false, leased: false, releasing: true, destroyed: true },
  releasing: { idle: true, validating: false, leased: true, releasing: false, destroyed: true },
  destroyed: { idle: false, validating: false, leased: false, releasing: false, destroyed: false },
};

/**
 * The pool's connections: every live entry, the idle stack (reused LIFO so the least recently used
 * connections age out above `min`), and a count per state, all kept in step by {@link transition}.
 * Knows nothing about databases or policy.
 * @internal
 */
export class ConnectionBag<C> {
  readonly #all = new Set<PoolEntry<C>>();
  /** Idle entries; the top of the stack (end of the array) is the most recently returned. */
  readonly idle: PoolEntry<C>[] = [];
  // one plain counter per state (not a keyed record): these change on every lease
  #idle = 0;
  #validating = 0;
  #leased = 0;
  #releasing = 0;

  /** Connections that are open (not destroyed). */
  get size(): number {
    return this.#all.size;
  }

  /** How many open entries are in `state`. */
  count(state: Exclude<EntryState, "destroyed">): number {
    switch (state) {
      case "idle":
        return this.#idle;
      case "validating":
        return this.#validating;
      case "leased":
        return this.#leased;
      case "releasing":
        return this.#releasing;
      default:
        return state satisfies never;
    }
  }

  entries(): IterableIterator<PoolEntry<C>> {
    return this.#all.values();
  }

  /** Adds a freshly opened connection in state `leased` (handed straight to a waiter) or `idle`. */
  add(entry: PoolEntry<C>, state: "idle" | "leased"): void {
    entry.state = state;
    this.#all.add(entry);
    this.#adjust(state, 1);
    if (state === "idle") this.idle.push(entry);
  }

  /** Pops the most recently returned idle entry and moves it to `to`. */
  popIdle(to: "leased" | "validating"): PoolEntry<C> | undefined {
    const entry = this.idle.pop();
    if (entry === undefined) return undefined;
    this.#move(entry, to);
    return entry;
  }

  /**
   * The one place an entry changes state. Keeps the idle stack and the per-state counts right and
   * throws on a move the life cycle does not allow (a bug, never user input).
   */
  transition(entry: PoolEntry<C>, to: EntryState): void {
    if (entry.state === "idle" && to !== "idle") {
      const index = this.idle.lastIndexOf(entry);
      if (index !== -1) this.idle.splice(index, 1);
    }
    this.#move(entry, to);
    if (to === "idle") this.idle.push(entry);
    if (to === "destroyed") this.#all.delete(entry);
  }

  #move(entry: PoolEntry<C>, to: EntryState): void {
    const from = entry.state;
    if (!allowed[from][to]) {
      throw new Error(
        `lifeguard internal error: connection ${entry.id} cannot go from "${from}" to "${to}"`,
      );
    }
    this.#adjust(from, -1);
    this.#adjust(to, 1);
    entry.state = to;
  }

  #adjust(state: EntryState, delta: number): void {
    switch (state) {
      case "idle":
        this.#idle += delta;
        break;
      case "validating":
        this.#validating += delta;
        break;
      case "leased":
        this.#leased += delta;
        break;
      case "releasing":
        this.#releasing += delta;
        break;
      case "destroyed":
        break; // destroyed entries leave the bag: nothing counts them
      default:
        state satisfies never;
    }
  }
}
