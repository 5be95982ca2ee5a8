import { inspect } from "node:util";
import type { AcquireOptions, Clock, CloseReport, Lease, PoolStats } from "@lifeguard/core";
import {
  AcquireTimeoutError,
  type Pool as CorePool,
  createPool,
  PoolClosedError,
} from "@lifeguard/core";
import { numberOptions } from "@lifeguard/core/internal";
import pg from "pg";
import { brandLifeguardPool } from "./brand.js";
import { BudgetCheck } from "./budget.js";
import type { LifeguardPoolClient } from "./client-handle.js";
import { createClientHandle, endHandle } from "./client-handle.js";
import { PgConnector } from "./connector.js";
import type { SharedPoolOptions } from "./hot-reload.js";
import { sharedPool } from "./hot-reload.js";
import { checkClientTarget, checkQueryConfig } from "./input-checks.js";
import type { ListenHandler, ListenOptions, ListenSubscription } from "./listen-api.js";
import { Listener } from "./listener.js";
import type { PoolConfig } from "./options.js";
import { splitConfig } from "./options.js";
import { setPoolEnding, setRef } from "./pg-internals.js";
import { publishIdleError, publishSessionCleaned, publishWarning } from "./pool-events.js";
import { passwordInUrl } from "./redact.js";
import { releaseOptionsFor } from "./release-verdict.js";
import { withServerlessPreset } from "./serverless.js";
import { sessionOf } from "./session.js";
import { sqlStateClassifier } from "./sqlstate.js";
import { trackedClientClass } from "./tracked-client.js";

type QueryCallback = (error: Error | undefined, result?: unknown) => void;
type ConnectCallback = (
  error: Error | undefined,
  client: LifeguardPoolClient | undefined,
  done: (release?: unknown) => void,
) => void;

/** Extra settings for tests: a clock to move by hand, a fixed random source, a shorter clean-up bound. */
export interface PoolTestingOptions {
  clock?: Clock;
  random?: () => number;
  /** @internal The bound on every session clean-up (5000 ms); tests shorten it. */
  cleanupTimeoutMillis?: number;
}

const noop = () => {};

/**
 * A drop-in replacement for `pg.Pool` on the Lifeguard engine: same constructor, `connect()`,
 * `query()`, `end()`, counts and events, with connections checked before lending, sessions
 * cleaned on release, bounded waits and metrics.
 *
 * ```ts
 * import { Pool } from "@lifeguard/pg";
 * const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
 * const { rows } = await pool.query("select now()");
 * ```
 */
export class Pool extends pg.Pool {
  /** The Lifeguard engine behind this pool (for adapters and exporters). */
  readonly lifeguard: CorePool<pg.Client>;
  readonly #connector: PgConnector;
  readonly #listener: Listener;
  readonly #log: (...messages: unknown[]) => void;
  readonly #shutdownTimeout: number;
  readonly #now: () => number;
  /** Borrows asked for before `end()`: it lets them finish (pg.Pool runs work accepted before it). */
  readonly #borrowing = new Set<Promise<unknown>>();
  #ending = false;
  readonly #release = (lease: Lease<pg.Client>, error: unknown, handle: LifeguardPoolClient) =>
    this.#releaseHandle(lease, error, handle);

  constructor(config: PoolConfig & PoolTestingOptions = {}) {
    const { clock, random, cleanupTimeoutMillis, ...given } = config;
    // the preset's values are options like any other from here on (pool.options shows them too)
    const pgConfig = withServerlessPreset(given);
    const split = splitConfig(pgConfig);
    super(pgConfig as pg.PoolConfig);
    this.#log = split.log ?? noop;
    hideSecrets(this);

    const Client = trackedClientClass(split.Client ?? pg.Client);
    const probe = checkClientTarget(Client, split.client, pgConfig.connectionString);
    const name = split.core.name ?? `${probe.host}:${probe.port}/${probe.database}`;
    const secrets = [
      typeof config.password === "string" ? config.password : undefined,
      passwordInUrl(config.connectionString),
      typeof probe.password === "string" ? probe.password : undefined,
    ];
    // the engine is created below, before any connector call can report something
    const engine = () => this.lifeguard;
    const budget =
      split.budget === undefined
        ? undefined
        : new BudgetCheck(split.budget, split.core.max ?? 10, (code, message) =>
            publishWarning(engine(), code, message),
          );
    this.#connector = new PgConnector({
      budget,
      Client,
      clientConfig: split.client,
      reset: split.reset,
      pgbouncer: split.pgbouncer,
      namedStatements: split.namedStatements,
      resetQuery: split.resetQuery,
      classify: sqlStateClassifier(split.evictOnSqlState),
      allowExitOnIdle: split.allowExitOnIdle,
      cleanupTimeoutMillis,
      secrets,
      hooks: {
        connected: async (client) => {
          this.#log("new client connected");
          // pg.Pool's order: onConnect, then the 'connect' event, then verify
          if (split.onConnect !== undefined) await split.onConnect(client);
          this.emit("connect", client);
          const verify = split.verify;
          if (verify !== undefined) {
            await new Promise<void>((resolve, reject) =>
              verify(client as pg.PoolClient, (error) => (error ? reject(error) : resolve())),
            );
          }
        },
        removed: (client) => {
          this.#log("client removed");
          this.emit("remove", client);
        },
        idleError: (error, client) => {
          publishIdleError(engine(), error);
          this.#log("idle client error", error.message);
          // pg.Pool emits 'error' with or without a listener, which kills applications that
          // forgot one (pg #1324); the error is counted in stats either way
          if (this.listenerCount("error") > 0) this.emit("error", error, client);
        },
        sessionCleaned: (step, info) => publishSessionCleaned(engine(), step, info),
        warning: (code, message) => publishWarning(engine(), code, message),
      },
    });
    this.lifeguard = createPool({
      ...split.core,
      name,
      connector: this.#connector,
      ...(clock === undefined ? {} : { clock }),
      ...(random === undefined ? {} : { random }),
    });
    this.#now = clock === undefined ? () => performance.now() : () => clock.now();
    // validated by createPool above; undefined means core's default
    this.#shutdownTimeout =
      split.core.shutdownTimeoutMillis ?? numberOptions.shutdownTimeoutMillis.default;
    this.options.max = this.lifeguard.stats().max;
    this.#listener = new Listener({
      poolName: () => this.lifeguard.name,
      Client: split.Client ?? pg.Client,
      clientConfig: split.client,
      secrets,
      timeoutMillis: split.core.acquireTimeoutMillis ?? 10_000,
      transactionPooler: split.pgbouncer === "transaction",
      ...(random === undefined ? {} : { random }),
    });
  }

  /**
   * Calls `handler` for each notification on `channel`, on one connection of its own outside the
   * pool that reconnects by itself and reports what it may have missed (`onGap`). Resolves once
   * the LISTEN is in place. See docs/listen.md.
   */
  listen(
    channel: string,
    handler: ListenHandler,
    options?: ListenOptions,
  ): Promise<ListenSubscription> {
    return this.#listener.listen(channel, handler, options);
  }

  /** Stops `handler` (or every handler) on `channel`; the last one out closes the connection. */
  unlisten(channel: string, handler?: ListenHandler): Promise<void> {
    return this.#listener.unlisten(channel, handler);
  }

  /**
   * For development with hot reload: the live pool for this configuration when the module that
   * creates it runs again, or a new one that ends the pool it replaces when the configuration
   * changed. See docs/hot-reload.md.
   */
  static shared<P extends Pool>(
    this: new (
      config: PoolConfig & PoolTestingOptions,
    ) => P,
    config: PoolConfig & PoolTestingOptions = {},
    options?: SharedPoolOptions,
  ): P {
    // biome-ignore lint/complexity/noThisInStatic: a subclass's shared() builds that subclass
    return sharedPool(this, config, options);
  }

  /** The pool's name in metrics and errors (default `host:port/database`). */
  get name(): string {
    return this.lifeguard.name;
  }

  // pg-pool implements the counts as getters but @types/pg declares them as properties, so they
  // are declared here and defined on the prototype below the class
  /** Open and opening clients. */
  declare readonly totalCount: number;
  /** Clients ready to lend. */
  declare readonly idleCount: number;
  /** Callers waiting for a client. */
  declare readonly waitingCount: number;
  /** Clients out with a borrower that will close on release (past their lifetime, or evicted). */
  declare readonly expiredCount: number;

  /** Borrow a client; release it with `client.release()` (or `await using`). */
  override connect(): Promise<LifeguardPoolClient>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<LifeguardPoolClient> | undefined {
    const acquiring = this.#acquire(undefined);
    if (callback === undefined) return acquiring;
    // called outside the promise chain: a throw in the callback is an uncaughtException, as with pg.Pool
    acquiring.then(
      (client) =>
        process.nextTick(
          callback,
          undefined,
          client,
          client.release as (release?: unknown) => void,
        ),
      (error: Error) => process.nextTick(callback, error, undefined, noop),
    );
    return undefined;
  }

  /** Runs one query on a pooled client. A statement error keeps the connection; a dead one is replaced. */
  override query<T extends pg.Submittable>(queryStream: T): T;
  override query<R extends unknown[] = unknown[], I = unknown[]>(
    queryConfig: pg.QueryArrayConfig<I>,
    values?: pg.QueryConfigValues<I>,
  ): Promise<pg.QueryArrayResult<R>>;
  // biome-ignore lint/suspicious/noExplicitAny: pg's own default row type, kept for drop-in typing
  override query<R extends pg.QueryResultRow = any, I = unknown[]>(
    queryConfig: pg.QueryConfig<I>,
  ): Promise<pg.QueryResult<R>>;
  // biome-ignore lint/suspicious/noExplicitAny: pg's own default row type, kept for drop-in typing
  override query<R extends pg.QueryResultRow = any, I = unknown[]>(
    queryTextOrConfig: string | pg.QueryConfig<I>,
    values?: pg.QueryConfigValues<I>,
  ): Promise<pg.QueryResult<R>>;
  override query<R extends unknown[] = unknown[], I = unknown[]>(
    queryConfig: pg.QueryArrayConfig<I>,
    callback: (err: Error, result: pg.QueryArrayResult<R>) => void,
  ): void;
  // biome-ignore lint/suspicious/noExplicitAny: pg's own default row type, kept for drop-in typing
  override query<R extends pg.QueryResultRow = any, I = unknown[]>(
    queryTextOrConfig: string | pg.QueryConfig<I>,
    callback: (err: Error, result: pg.QueryResult<R>) => void,
  ): void;
  // biome-ignore lint/suspicious/noExplicitAny: pg's own default row type, kept for drop-in typing
  override query<R extends pg.QueryResultRow = any, I = unknown[]>(
    queryText: string,
    values: pg.QueryConfigValues<I>,
    callback: (err: Error, result: pg.QueryResult<R>) => void,
  ): void;
  override query(...args: unknown[]): unknown {
    let [config, values, callback] = args;
    if (typeof config === "function") {
      const error = new Error(
        "Passing a function as the first parameter to pool.query is not supported",
      );
      setImmediate(() => (config as QueryCallback)(error));
      return undefined;
    }
    if (typeof values === "function") {
      callback = values;
      values = undefined;
    }
    // pg would find this out only after a connection was borrowed
    const invalid = checkQueryConfig(config);
    const running = invalid === undefined ? this.#query(config, values) : Promise.reject(invalid);
    if (typeof callback !== "function") return running;
    // outside the promise chain: a throw in the callback is an uncaughtException, as with pg.Pool
    running.then(
      (result) => process.nextTick(callback as QueryCallback, undefined, result),
      (error: Error) => process.nextTick(callback as QueryCallback, error),
    );
    return undefined;
  }

  /**
   * Closes the pool: waiting callers are rejected, idle clients closed, and clients still out are
   * waited for up to `shutdownTimeoutMillis`. Calling it again returns the same result.
   */
  override end(): Promise<void>;
  override end(callback: () => void): void;
  override end(callback?: () => void): Promise<void> | undefined {
    const ending = this.close().then(noop);
    if (callback === undefined) return ending;
    void ending.then(() => process.nextTick(callback));
    return undefined;
  }

  /** Like `end()`, but reports which leases were still out when it stopped waiting. */
  close(options?: { timeoutMillis?: number }): Promise<CloseReport> {
    setPoolEnding(this, "ending");
    this.#ending = true;
    const timeout = options?.timeoutMillis ?? this.#shutdownTimeout;
    const startedAt = this.#now();
    // borrows asked for before end() are served first (bounded by the same shutdown timeout)
    const accepted = [...this.#borrowing];
    const waited =
      accepted.length === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, timeout);
            timer.unref();
            void Promise.allSettled(accepted).then(() => {
              clearTimeout(timer);
              resolve();
            });
          });
    // the LISTEN connection is outside the lending pool: it closes beside it
    const listenerClosed = this.#listener.close();
    return waited
      .then(() =>
        this.lifeguard.close(
          accepted.length === 0
            ? options
            : { timeoutMillis: Math.max(0, Math.floor(timeout - (this.#now() - startedAt))) },
        ),
      )
      .then((report) => listenerClosed.then(() => report))
      .then((report) => {
        setPoolEnding(this, "ended");
        return report;
      });
  }

  /** An immutable snapshot: connections by state, waiters, counters (resets, rollbacks, pings ...). */
  stats(): PoolStats {
    return this.lifeguard.stats();
  }

  /** Resolves once `min` connections are open; rejects with the connect error. */
  warmup(): Promise<void> {
    return this.lifeguard.warmup();
  }

  /** Retires connections (at least `olderThan` ms old): idle ones now, busy ones on release. */
  evict(options?: { olderThan?: number }): number {
    return this.lifeguard.evict(options);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.end();
  }

  [inspect.custom](): string {
    return `Pool ${inspect(this.lifeguard)}`;
  }

  toJSON(): PoolStats {
    return this.stats();
  }

  /** The one borrow path, for `connect()` and `query()` alike. */
  #acquire(options: AcquireOptions | undefined): Promise<LifeguardPoolClient> {
    if (this.#ending)
      return Promise.reject(pgPoolCompatible(new PoolClosedError(this.lifeguard.name)));
    const borrowing = this.#borrow(options);
    // a query's whole run counts as accepted work, not only its borrow
    this.#borrowing.add(borrowing);
    void borrowing.then(
      () => this.#borrowing.delete(borrowing),
      () => this.#borrowing.delete(borrowing),
    );
    return borrowing;
  }

  async #borrow(options: AcquireOptions | undefined): Promise<LifeguardPoolClient> {
    for (;;) {
      let lease: Lease<pg.Client>;
      try {
        lease = await this.lifeguard.acquire(options);
      } catch (error) {
        throw pgPoolCompatible(error);
      }
      const client = lease.connection;
      const session = sessionOf(client);
      // held while anyone is borrowing, so allowExitOnIdle never ends the process under a borrower
      setRef(client, true);
      // the previous borrower's clean-up finishes before this borrower gets the client
      if (session?.pendingClean !== undefined) await session.pendingClean;
      if (session?.broken === true) {
        // it failed or ran out of time: the connection is closed and another one is borrowed
        lease.release({ destroy: true });
        continue;
      }
      if (session !== undefined) session.leased = true;
      const handle = createClientHandle(lease, this.lifeguard.name, this.#release);
      if (this.listenerCount("acquire") > 0) this.emit("acquire", handle);
      return handle;
    }
  }

  /** The one give-back path, for `client.release()` and the end of `query()` alike. */
  #releaseHandle(lease: Lease<pg.Client>, error: unknown, handle: LifeguardPoolClient): void {
    if (lease.released) {
      lease.release(); // throws LeaseReleasedError: a second release
      return;
    }
    if (this.listenerCount("release") > 0)
      this.emit("release", error instanceof Error ? error : undefined, handle);
    endHandle(handle, lease.connection);
    if (error === undefined || error === null || error === false) lease.release();
    else lease.release(releaseOptionsFor(lease.connection, error, this.#connector));
  }

  async #query(config: unknown, values: unknown): Promise<unknown> {
    if (this.#ending) throw pgPoolCompatible(new PoolClosedError(this.lifeguard.name));
    // borrowed directly, not through #acquire: `running` below stands for the borrow too
    const running = this.#borrow(undefined).then(async (client) => {
      let result: unknown;
      try {
        result = await runQuery(client, config, values);
      } catch (error) {
        client.release(error instanceof Error ? error : new Error(String(error)));
        throw error;
      }
      client.release();
      return result;
    });
    // end() waits for the query, not only for its borrow
    this.#borrowing.add(running);
    void running.then(
      () => this.#borrowing.delete(running),
      () => this.#borrowing.delete(running),
    );
    return running;
  }
}

/**
 * pg.Pool's errors say "timeout exceeded when trying to connect" and "Cannot use a pool after
 * calling end on the pool", and code matches on them: Lifeguard's messages carry those phrases
 * too (the codes stay Lifeguard's).
 */
function pgPoolCompatible(error: unknown): unknown {
  // appended, so messages still start with Lifeguard's own text (adapters build on it)
  if (error instanceof AcquireTimeoutError && !error.message.includes(PG_TIMEOUT)) {
    error.message = `${error.message} (pg.Pool: ${PG_TIMEOUT})`;
  } else if (error instanceof PoolClosedError && !error.message.includes(PG_ENDED)) {
    error.message = `${error.message} (pg.Pool: ${PG_ENDED})`;
  }
  return error;
}
const PG_TIMEOUT = "timeout exceeded when trying to connect";
const PG_ENDED = "Cannot use a pool after calling end on the pool";

brandLifeguardPool(Pool.prototype);

Object.defineProperties(Pool.prototype, {
  totalCount: {
    get(this: Pool) {
      const s = this.lifeguard.stats();
      return s.total + s.creating;
    },
  },
  idleCount: {
    get(this: Pool) {
      return this.lifeguard.stats().idle;
    },
  },
  waitingCount: {
    get(this: Pool) {
      return this.lifeguard.stats().pending;
    },
  },
  expiredCount: {
    get(this: Pool) {
      return this.lifeguard.stats().expiring;
    },
  },
});

/** A query, or a Submittable (QueryStream, Cursor) whose end is awaited before release. */
function runQuery(client: pg.PoolClient, config: unknown, values: unknown): Promise<unknown> {
  const submittable = config as {
    submit?: unknown;
    once?: (event: string, fn: (arg?: unknown) => void) => void;
  };
  if (typeof submittable.submit !== "function") {
    // the callback form: pg's promise form adds a promise and a catch handler per query
    return new Promise((resolve, reject) => {
      const query = client.query as unknown as (
        config: unknown,
        values: unknown,
        callback: (error: Error | undefined, result: unknown) => void,
      ) => void;
      query.call(client, config, values, (error, result) =>
        error ? reject(error) : resolve(result),
      );
    });
  }
  return new Promise((resolve, reject) => {
    submittable.once?.("end", resolve);
    submittable.once?.("close", resolve);
    submittable.once?.("error", reject);
    client.query(config as pg.Submittable);
  });
}

/** pg.Pool hides `options.password`; a password inside `connectionString` deserves the same. */
function hideSecrets(pool: Pool): void {
  const options = pool.options as unknown as Record<string, unknown>;
  const url = options["connectionString"];
  if (typeof url === "string" && passwordInUrl(url) !== undefined) {
    Object.defineProperty(options, "connectionString", {
      value: url,
      enumerable: false,
      writable: true,
      configurable: true,
    });
  }
}
