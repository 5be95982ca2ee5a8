import { EventEmitter } from "node:events";
import type { Connector } from "@lifeguard/core";

/**
 * The stub "connection" every pool in the core suite hands out: no I/O, opening it resolves at
 * once. Every pool gets the same stub behaviour through the same functions below, so the suite
 * measures the pools and nothing else.
 */
export interface StubConnection {
  readonly id: number;
  broken: boolean;
}

let nextId = 0;

export function openStub(): StubConnection {
  return { id: ++nextId, broken: false };
}

/** The free local health check (a socket-ended flag on a real driver). */
export function isBroken(connection: StubConnection): boolean {
  return connection.broken;
}

/** For Lifeguard: connect resolves at once, ping resolves at once, release is synchronous 'keep'. */
export const stubConnector: Connector<StubConnection> = {
  connect: () => Promise.resolve(openStub()),
  isBroken,
  ping: () => Promise.resolve(),
  release: () => "keep",
  destroy: () => {},
  classify: () => "statement",
};

/**
 * For pg-pool: what it calls on a `pg.Client` (see pg-pool/index.js): `connect(cb)`, `end(cb)`,
 * `query(text, values, cb)` (only by `pool.query`), `on`/`once`/`removeListener` for its idle
 * error listener, optional `ref`/`unref`, and the `_queryable`/`_ending` flags it reads on release.
 * It assigns `release` itself.
 */
export class StubPgClient extends EventEmitter {
  readonly stub = openStub();
  _queryable = true;
  _ending = false;
  release?: (error?: Error | boolean) => void;

  /** pg-pool passes its options, as it would to `new pg.Client(options)`. */
  constructor(_options?: unknown) {
    super();
  }

  connect(callback: (error?: Error) => void): void {
    queueMicrotask(() => callback(undefined));
  }

  query(
    _text: unknown,
    _values: unknown,
    callback: (error: Error | undefined, result: { rows: unknown[] }) => void,
  ): void {
    queueMicrotask(() => callback(undefined, { rows: [] }));
  }

  end(callback?: () => void): void {
    this._ending = true;
    this._queryable = false;
    queueMicrotask(() => {
      this.emit("end");
      callback?.();
    });
  }

  ref(): void {}
  unref(): void {}
}
