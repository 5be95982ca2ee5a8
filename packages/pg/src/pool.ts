import { inspect } from "node:util";
import type {
  AcquireOptions,
  Clock,
  CloseReport,
  EvictOptions,
  Lease,
  PoolStats,
} from "@lifeguard/core";
import {
  AcquireTimeoutError,
  type Pool as CorePool,
  createPool,
  PoolClosedError,
  systemClock,
} from "@lifeguard/core";
import { numberOptions } from "@lifeguard/core/internal";
import pg from "pg";
import { brandLifeguardPool } from "./brand.js";
import { BudgetCheck, budgetHostOf } from "./budget.js";
import type { LifeguardPoolClient } from "./client-handle.js";
import { createClientHandle, endHandle, noteTimeouts } from "./client-handle.js";
import type { HostRegistry } from "./cluster/host-registry.js";
import type { ClusterRoute } from "./cluster/multi-host.js";
import { kClusterRoute, multiHostSetup } from "./cluster/multi-host.js";
import { PgConnector } from "./connector.js";
import { CredentialSource } from "./credentials.js";
import type { SharedPoolOptions } from "./hot-reload.js";
import { sharedPool } from "./hot-reload.js";
import { checkClientTarget, checkQueryConfig } from "./input-checks.js";
import type { ListenHandler, ListenOptions, ListenSubscription } from "./listen-api.js";
import { Listener } from "./listener.js";
import type { PoolConfig } from "./options.js";
import { splitConfig } from "./options.js";
import { setPoolEnding, setRef } from "./pg-internals.js";
import { pipelineEligibility } from "./pipeline-eligibility.js";
import { publishIdleError, publishSessionCleaned, publishWarning } from "./pool-events.js";
import { QueryPipeline } from "./query-pipeline.js";
import { passwordInUrl } from "./redact.js";
import { releaseOptionsFor } from "./release-verdict.js";
import { withServerlessPreset } from "./serverless.js";
import type { SessionState } from "./session.js";
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
  readonly #credentials: CredentialSource | undefined;
  readonly #listener: Listener;
  readonly #log: (...messages: unknown[]) => void;
  readonly #shutdownTimeout: number;
  readonly #now: () => number;
  /** A multi-host connection string's hosts, owned by this pool (a Cluster owns its own). */
  readonly #hosts: HostRegistry | undefined;
  /**
   * Work accepted before `end()` and not finished (borrows, and queries with their whole run):
   * `end()` lets it finish, as pg.Pool runs work accepted before it. A count, not a set of
   * promises: `pool.query()` is the hot path.
   */
  #accepted = 0;
  /** While `close()` waits for the accepted work: settles when the count reaches 0. */
  #drained: { promise: Promise<void>; resolve: () => void } | undefined;
  /** Connections lent or being borrowed, by every path: the pipeline's guess at a free one. */
  #out = 0;
  /** Borrows in flight outside the pipeline (`connect()`, unpipelined queries). */
  #othersBorrowing = 0;
  /** `pipelineQueries`, when on. */
  readonly #pipeline: QueryPipeline | undefined;
  #ending = false;
  readonly #release = (lease: Lease<pg.Client>, error: unknown, handle: LifeguardPoolClient) =>
    this.#releaseHandle(lease, error, handle);

  constructor(config: PoolConfig & PoolTestingOptions = {}) {
    const {
      clock,
      random,
      cleanupTimeoutMillis,
      [kClusterRoute]: route,
      ...given
    } = config as PoolConfig & PoolTestingOptions & { [kClusterRoute]?: ClusterRoute };
    // the preset's values are options like any other from here on (pool.options shows them too)
    const pgConfig = withServerlessPreset(given);
    const split = splitConfig(pgConfig);
    super(pgConfig as pg.PoolConfig);
    this.#log = split.log ?? noop;
    hideSecrets(this);

    // several hosts: each connection chooses its host for the target (docs/cluster.md)
    const multiHost = multiHostSetup(split, route);
    this.#hosts = multiHost?.ownsRegistry === true ? multiHost.registry : undefined;
    const clientConfig = multiHost?.clientConfig ?? split.client;
    const Client = trackedClientClass(multiHost?.Client ?? split.Client ?? pg.Client);
    const probe = checkClientTarget(
      Client,
      clientConfig,
      multiHost === undefined ? pgConfig.connectionString : undefined,
      split.credentials !== undefined,
    );
    const name =
      split.core.name ??
      (multiHost === undefined
        ? `${probe.host}:${probe.port}/${probe.database}`
        : `${multiHost.registry.records.map((r) => r.key).join(",")}/${probe.database}`);
    const secrets = [
      typeof config.password === "string" ? config.password : undefined,
      passwordInUrl(config.connectionString),
      typeof probe.password === "string" ? probe.password : undefined,
    ];
    // the engine is created below, before any connector call can report something
    const engine = () => this.lifeguard;
    // a Cluster's pools share its check (one per host, writer.max + reader.max); a multi-host pool
    // checks each host it reaches against its own max
    const budget =
      route?.budget ??
      (split.budget === undefined
        ? undefined
        : new BudgetCheck(
            split.budget,
            () => ({ max: this.options.max, label: `max ${this.options.max}` }),
            multiHost === undefined ? undefined : budgetHostOf,
          ));
    // an over-budget host under `enforce` takes no more connects (a Cluster wires its own check)
    if (budget !== undefined && multiHost !== undefined && route?.budget === undefined)
      budget.onRefused((host, error) => multiHost.registry.refuse(host, error));
    const credentials =
      split.credentials === undefined
        ? undefined
        : new CredentialSource({
            provider: split.credentials,
            clock: clock ?? systemClock,
            refreshFailed: (error, usable) =>
              publishWarning(
                engine(),
                "LIFEGUARD_CREDENTIALS_REFRESH_FAILED",
                (poolName) =>
                  `Pool "${poolName}" could not refresh its credentials (${error.message}); ${usable ? "the last good ones serve until they expire, and the refresh is retried" : "new connections fail with CredentialsUnavailableError until a refresh succeeds"}.`,
              ),
            // retire what the old credentials opened gradually: before they expire, or within a minute
            rotated: (previous) => {
              const left = previous.expiresAt - this.#now();
              this.lifeguard.evict({
                spreadMillis: Math.max(
                  1,
                  Math.floor(
                    Math.min(Number.isFinite(left) ? left : ROTATION_SPREAD_MILLIS, MAX_SPREAD),
                  ),
                ),
              });
            },
          });
    this.#credentials = credentials;
    this.#connector = new PgConnector({
      credentials,
      random,
      budget,
      hosts: multiHost?.registry,
      Client,
      clientConfig,
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
    this.#hosts?.start();
    this.#pipeline =
      split.pipelineQueries === undefined
        ? undefined
        : new QueryPipeline(split.pipelineQueries, {
            acquire: () => {
              this.#out++;
              return this.lifeguard.acquire(undefined).then(undefined, (error: unknown) => {
                this.#out--;
                throw error;
              });
            },
            release: (lease, error) => {
              this.#out--;
              if (error === undefined) lease.release();
              else lease.release(releaseOptionsFor(lease.connection, error, this.#connector));
            },
            retires: (client, error) =>
              releaseOptionsFor(client, error, this.#connector) !== undefined ||
              sessionOf(client)?.broken === true,
            hasRoom: () => this.#out < this.options.max,
            othersWaiting: () => this.#othersBorrowing > 0,
            compatible: pgPoolCompatible,
            now: this.#now,
            clientPipelined: (split.client as { pipeline?: unknown }).pipeline === true,
          });
    this.#listener = new Listener({
      poolName: () => this.lifeguard.name,
      Client: multiHost?.ListenClient ?? split.Client ?? pg.Client,
      clientConfig,
      secrets,
      timeoutMillis: split.core.acquireTimeoutMillis ?? 10_000,
      transactionPooler: split.pgbouncer === "transaction",
      credentials,
      clock: clock ?? systemClock,
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
    const running =
      invalid === undefined
        ? this.#query(config, values, typeof callback !== "function")
        : Promise.reject(invalid);
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
    const accepted = this.#accepted;
    let drained: Promise<void> | undefined;
    if (accepted > 0) {
      if (this.#drained === undefined) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => {
          resolve = r;
        });
        this.#drained = { promise, resolve };
      }
      drained = this.#drained.promise;
    }
    const waited =
      drained === undefined
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, timeout);
            timer.unref();
            void drained.then(() => {
              clearTimeout(timer);
              resolve();
            });
          });
    // the LISTEN connection is outside the lending pool: it closes beside it
    const listenerClosed = this.#listener.close();
    this.#credentials?.close();
    return waited
      .then(() => {
        // queries still waiting for a pipelined connection when end() stopped waiting
        this.#pipeline?.rejectQueued(pgPoolCompatible(new PoolClosedError(this.lifeguard.name)));
      })
      .then(() =>
        this.lifeguard.close(
          accepted === 0
            ? options
            : { timeoutMillis: Math.max(0, Math.floor(timeout - (this.#now() - startedAt))) },
        ),
      )
      .then((report) => listenerClosed.then(() => report))
      .then((report) => {
        this.#hosts?.close();
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

  /**
   * Retires connections (at least `olderThan` ms old): idle ones now, busy ones on release; with
   * `spreadMillis`, each at a random moment within that window.
   */
  evict(options?: EvictOptions): number {
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
    this.#accepted++;
    const borrowing = this.#borrow(options);
    void borrowing.then(this.#settled, this.#settled);
    return borrowing;
  }

  /** One piece of accepted work finished. */
  readonly #settled = (): void => {
    if (--this.#accepted === 0 && this.#drained !== undefined) {
      const { resolve } = this.#drained;
      this.#drained = undefined;
      resolve();
    }
  };

  async #borrow(options: AcquireOptions | undefined): Promise<LifeguardPoolClient> {
    for (;;) {
      let lease: Lease<pg.Client>;
      this.#out++;
      this.#othersBorrowing++;
      try {
        lease = await this.lifeguard.acquire(options);
      } catch (error) {
        this.#out--;
        throw pgPoolCompatible(error);
      } finally {
        this.#othersBorrowing--;
      }
      const client = lease.connection;
      const session = sessionOf(client);
      // held while anyone is borrowing, so allowExitOnIdle never ends the process under a borrower
      setRef(client, true);
      // the previous borrower's clean-up finishes before this borrower gets the client
      if (session?.pendingClean !== undefined) await session.pendingClean;
      if (session?.broken === true) {
        // it failed or ran out of time: the connection is closed and another one is borrowed
        this.#out--;
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
    this.#out--;
    if (error === undefined || error === null || error === false) lease.release();
    else lease.release(releaseOptionsFor(lease.connection, error, this.#connector));
    this.#pipeline?.wake();
  }

  #query(config: unknown, values: unknown, mayPipeline: boolean): Promise<unknown> {
    if (this.#ending)
      return Promise.reject(pgPoolCompatible(new PoolClosedError(this.lifeguard.name)));
    this.#accepted++;
    let running: Promise<unknown>;
    if (
      isSubmittable(config) ||
      this.listenerCount("acquire") > 0 ||
      this.listenerCount("release") > 0
    ) {
      running = this.#queryThroughHandle(config, values);
    } else {
      // without 'acquire'/'release' listeners nobody can see the client: no handle is made for it
      const pipeline = this.#pipeline;
      const eligibility =
        pipeline !== undefined && mayPipeline ? pipelineEligibility(config) : "never";
      running =
        pipeline === undefined || eligibility === "never"
          ? new Promise<unknown>((resolve, reject) =>
              this.#queryLeased(config, values, resolve, reject),
            )
          : new Promise<unknown>((resolve, reject) =>
              pipeline.submit(config, values, eligibility, resolve, reject),
            );
    }
    // end() waits for the query, not only for its borrow
    void running.then(this.#settled, this.#settled);
    return running;
  }

  /** `pool.query()` the way `pool.connect()` lends: a handle that 'acquire'/'release' listeners get. */
  #queryThroughHandle(config: unknown, values: unknown): Promise<unknown> {
    return this.#borrow(undefined).then(async (client) => {
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
  }

  /**
   * `pool.query()` on the lease's connection itself: the same steps as {@link #borrow}, a query
   * and {@link #releaseHandle}, without the handle (a Proxy and its bookkeeping per query).
   */
  #queryLeased(
    config: unknown,
    values: unknown,
    resolve: (result: unknown) => void,
    reject: (error: unknown) => void,
  ): void {
    this.#out++;
    this.#othersBorrowing++;
    this.lifeguard.acquire(undefined).then(
      (lease) => {
        this.#othersBorrowing--;
        const session = sessionOf(lease.connection);
        setRef(lease.connection, true);
        if (session?.pendingClean === undefined)
          this.#runLeased(lease, session, config, values, resolve, reject);
        else
          void session.pendingClean.then(() =>
            this.#runLeased(lease, session, config, values, resolve, reject),
          );
      },
      (error: unknown) => {
        this.#othersBorrowing--;
        this.#out--;
        reject(pgPoolCompatible(error));
      },
    );
  }

  #runLeased(
    lease: Lease<pg.Client>,
    session: SessionState | undefined,
    config: unknown,
    values: unknown,
    resolve: (result: unknown) => void,
    reject: (error: unknown) => void,
  ): void {
    const client = lease.connection;
    if (session !== undefined) {
      if (session.broken) {
        // its clean-up failed or ran out of time: the connection is closed, another one borrowed
        this.#out--;
        lease.release({ destroy: true });
        this.#queryLeased(config, values, resolve, reject);
        return;
      }
      session.leased = true;
      noteTimeouts(config, session);
    }
    const done = (error: Error | null | undefined, result: unknown) => {
      this.#out--;
      if (error) {
        lease.release(releaseOptionsFor(client, error, this.#connector));
        reject(error);
      } else {
        lease.release();
        resolve(result);
      }
      this.#pipeline?.wake();
    };
    try {
      (client.query as unknown as RawQuery).call(client, config, values, done);
    } catch (error) {
      done(error instanceof Error ? error : new Error(String(error)), undefined);
    }
  }
}

type RawQuery = (
  config: unknown,
  values: unknown,
  callback: (error: Error | null | undefined, result: unknown) => void,
) => void;

function isSubmittable(config: unknown): boolean {
  return (
    typeof config === "object" &&
    config !== null &&
    typeof (config as { submit?: unknown }).submit === "function"
  );
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
/** Without an expiry, the connections the old credentials opened retire within this window. */
const ROTATION_SPREAD_MILLIS = 60_000;
const MAX_SPREAD = 2_147_483_647;
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
