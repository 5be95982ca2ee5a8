/**
 * FIFO queue of waiters on a growable ring buffer: O(1) push, shift and unshift (a waiter whose
 * pre-ping failed goes back to the front). Waiters that gave up are removed lazily: the queue
 * skips entries for which `isLive` is false, so a timeout never has to search the queue, and
 * drops them in bulk when they fill half the buffer, so they never pile up.
 * @internal
 */
export class WaiterQueue<T extends { readonly settled: boolean }> {
  #buffer: (T | undefined)[] = new Array(16);
  #head = 0;
  #length = 0;
  /** Live (unsettled) waiters; kept by the pool through {@link noteSettled}. */
  #live = 0;

  /** Waiters that are still waiting. */
  get live(): number {
    return this.#live;
  }

  push(item: T): void {
    if (this.#length === this.#buffer.length) this.#makeRoom();
    this.#buffer[(this.#head + this.#length) & (this.#buffer.length - 1)] = item;
    this.#length++;
    this.#live++;
  }

  unshift(item: T): void {
    if (this.#length === this.#buffer.length) this.#makeRoom();
    this.#head = (this.#head - 1) & (this.#buffer.length - 1);
    this.#buffer[this.#head] = item;
    this.#length++;
    this.#live++;
  }

  /** Removes and returns the first live waiter; the caller now owns its `live` count. */
  shift(): T | undefined {
    while (this.#length > 0) {
      const item = this.#buffer[this.#head] as T;
      this.#buffer[this.#head] = undefined;
      this.#head = (this.#head + 1) & (this.#buffer.length - 1);
      this.#length--;
      if (!item.settled) {
        this.#live--;
        return item;
      }
    }
    return undefined;
  }

  /**
   * Visits live waiters from the head, in order, while `visit` returns true. `visit` may settle the
   * waiter it is given (the queue then skips it, and may shrink, ending the walk early).
   */
  walk(visit: (item: T) => boolean): void {
    for (let i = 0; i < this.#length; i++) {
      const item = this.#buffer[(this.#head + i) & (this.#buffer.length - 1)] as T;
      if (!item.settled && !visit(item)) return;
    }
  }

  /** A queued waiter settled on its own (timeout, abort): it no longer counts as live. */
  noteSettled(): void {
    this.#live--;
    // shrink the backlog of dead entries once they dominate, so memory stays bounded
    if (this.#live === 0 && this.#length > 0) this.clear();
  }

  /** Removes every entry and returns the live ones, in order. */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) out.push(item);
    return out;
  }

  clear(): void {
    this.#buffer = new Array(16);
    this.#head = 0;
    this.#length = 0;
    this.#live = 0;
  }

  /**
   * The buffer is full. When at least half of it is waiters that gave up, drop them instead of
   * growing: a queue that never empties (callers arriving and timing out steadily) would otherwise
   * keep every caller it ever held. Amortized O(1): after a compaction at least half the buffer
   * is free.
   */
  #makeRoom(): void {
    if (this.#live * 2 > this.#length) {
      this.#grow();
      return;
    }
    const old = this.#buffer;
    const next: (T | undefined)[] = new Array(old.length);
    let kept = 0;
    for (let i = 0; i < this.#length; i++) {
      const item = old[(this.#head + i) & (old.length - 1)] as T;
      if (!item.settled) next[kept++] = item;
    }
    this.#buffer = next;
    this.#head = 0;
    this.#length = kept;
  }

  #grow(): void {
    const old = this.#buffer;
    const next: (T | undefined)[] = new Array(old.length * 2);
    for (let i = 0; i < this.#length; i++) next[i] = old[(this.#head + i) & (old.length - 1)];
    this.#buffer = next;
    this.#head = 0;
  }
}
