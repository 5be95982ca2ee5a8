import type { Clock, TimerHandle } from "./clock.js";

/** Something that wants to run at a point in (monotonic) time. */
export interface Timed {
  /** When it is due, on the pool's clock. */
  dueAt: number;
  /** Position in the scheduler's heap; -1 when not scheduled. Owned by the scheduler. */
  heapIndex: number;
  onDue(now: number): void;
}

/**
 * Every deadline a pool has (waiters, pings, leak watches, backoff, housekeeping) in one indexed
 * min-heap behind one unref'd timer. Scheduling costs O(log n) and never allocates a timer unless
 * the earliest deadline moves earlier, so deadlines stay off the acquire fast path.
 * @internal
 */
export class Scheduler {
  readonly #clock: Clock;
  readonly #heap: Timed[] = [];
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #stopped = false;
  readonly #fire = () => this.#onTimer();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  schedule(item: Timed, dueAt: number): void {
    if (item.heapIndex !== -1) this.cancel(item);
    item.dueAt = dueAt;
    item.heapIndex = this.#heap.length;
    this.#heap.push(item);
    this.#up(item.heapIndex);
    if (dueAt < this.#timerAt) this.#arm();
  }

  cancel(item: Timed): void {
    const index = item.heapIndex;
    if (index === -1) return;
    item.heapIndex = -1;
    const last = this.#heap.pop() as Timed;
    if (index < this.#heap.length) {
      this.#heap[index] = last;
      last.heapIndex = index;
      this.#down(index);
      this.#up(last.heapIndex);
    }
    // the armed timer may now fire early; it then re-arms for the new earliest item
  }

  /** Stops the timer for good (pool closed); scheduled items never fire. */
  stop(): void {
    this.#stopped = true;
    for (const item of this.#heap) item.heapIndex = -1;
    this.#heap.length = 0;
    this.#disarm();
  }

  #arm(): void {
    if (this.#stopped) return;
    this.#disarm();
    const top = this.#heap[0];
    if (top === undefined) return;
    this.#timerAt = top.dueAt;
    const handle = this.#clock.setTimeout(this.#fire, Math.max(0, top.dueAt - this.#clock.now()));
    (handle as { unref?: () => void } | undefined)?.unref?.();
    this.#timer = handle;
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    for (;;) {
      const top = this.#heap[0];
      if (top === undefined || top.dueAt > now || this.#stopped) break;
      this.cancel(top);
      top.onDue(now);
    }
    if (this.#timer === undefined) this.#arm();
  }

  #up(index: number): void {
    const heap = this.#heap;
    const item = heap[index] as Timed;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex] as Timed;
      if (parent.dueAt <= item.dueAt) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = item;
    item.heapIndex = index;
  }

  #down(index: number): void {
    const heap = this.#heap;
    const length = heap.length;
    const item = heap[index] as Timed;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && (heap[right] as Timed).dueAt < (heap[left] as Timed).dueAt)
        child = right;
      const childItem = heap[child] as Timed;
      if (childItem.dueAt >= item.dueAt) break;
      heap[index] = childItem;
      childItem.heapIndex = index;
      index = child;
    }
    heap[index] = item;
    item.heapIndex = index;
  }
}
