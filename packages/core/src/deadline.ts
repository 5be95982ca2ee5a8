import type { Timed } from "./scheduler.js";

/**
 * The one deadline type: anything the pool's scheduler fires (a waiter's timeout, a connect or
 * ping bound, the backoff retry, the idle and queue deadlines) extends it. The heap fields live on
 * the object itself, so scheduling allocates nothing.
 * @internal
 */
export abstract class Deadline implements Timed {
  dueAt = 0;
  heapIndex = -1;
  abstract onDue(now: number): void;
}

/** A deadline that runs a fixed callback; for the pool's own timers (one object each, made once). @internal */
export class Timer extends Deadline {
  readonly #fire: (now: number) => void;
  constructor(fire: (now: number) => void) {
    super();
    this.#fire = fire;
  }
  onDue(now: number): void {
    this.#fire(now);
  }
}

/** A deadline for one piece of work in flight (a connect, a ping) that can be abandoned. @internal */
export abstract class Attempt extends Deadline {
  /** Settled: it finished, timed out, or the pool closed. Later outcomes are ignored. */
  done = false;
  readonly controller = new AbortController();
  readonly startedAt: number;
  constructor(startedAt: number) {
    super();
    this.startedAt = startedAt;
  }
}
