import type {
  ConnectContext,
  ConnectionInfo,
  Connector,
  ErrorClass,
  PoolLike,
  ReleaseDecision,
} from "@lifeguard/core";
import { channels } from "@lifeguard/core/internal";
import type pg from "pg";
import type { BudgetCheck } from "./budget.js";
import { redactError } from "./redact.js";
import type { SessionPolicy, SessionState } from "./session.js";
import { attachSession, forgetPreparedStatements, sessionOf } from "./session.js";
import { classifyStatement } from "./statement-classifier.js";

/** When the pool resets a session before the next borrower. */
export type ResetMode = "auto" | "always" | "never";

/** Running behind PgBouncer, and in which pool mode. */
export type PgBouncerMode = false | "session" | "transaction";

type ClientClass = new (config?: pg.ClientConfig) => pg.Client;
type RawQuery = (this: pg.Client, config: unknown, values?: unknown, callback?: unknown) => unknown;

/** How long cleaning a session (ROLLBACK, reset) may take before the connection is closed instead. */
const CLEANUP_TIMEOUT_MILLIS = 5000;
/** How long a polite close may take before the socket is destroyed. */
const END_TIMEOUT_MILLIS = 2000;

/** What the pg drop-in needs to hear from its connector. @internal */
export interface PgConnectorHooks {
  /** A new client is connected; statements it runs now are session set-up, replayed after resets. */
  connected(client: pg.Client): void | Promise<void>;
  /** A client was closed. */
  removed(client: pg.Client): void;
  /** An idle client failed (its backend died): counted, and reported to 'error' listeners. */
  idleError(error: Error, client: pg.Client): void;
}

/** @internal */
export interface PgConnectorOptions {
  readonly Client: ClientClass;
  readonly clientConfig: pg.ClientConfig;
  readonly reset: ResetMode;
  /** Behind PgBouncer in `'transaction'` mode the reset is PgBouncer's job; session state only warns. */
  readonly pgbouncer: PgBouncerMode;
  /** `false`: named queries are sent unnamed. */
  readonly namedStatements: boolean;
  readonly resetQuery: string;
  readonly classify: (error: unknown) => ErrorClass;
  readonly allowExitOnIdle: boolean;
  readonly secrets: readonly (string | undefined)[];
  readonly hooks: PgConnectorHooks;
  /** The fleet's connection budget, checked on the first connect. */
  readonly budget?: BudgetCheck | undefined;
}

/**
 * The PostgreSQL connector on `pg`: opens clients within the pool's deadline, checks them with an
 * empty query, and brings each session back to clean on release (SPEC §4's release protocol).
 */
export class PgConnector implements Connector<pg.Client> {
  readonly #o: PgConnectorOptions;
  readonly #rawQuery: RawQuery;
  readonly #resetDeallocates: "all" | readonly string[] | undefined;
  readonly #policy: SessionPolicy;
  readonly #warnedKinds = new Set<string>();
  /** The pool this connector serves, for event payloads; set once the pool exists. */
  pool: PoolLike | undefined;
  #rollbacks = 0;
  #resets = 0;
  #cleanupFailures = 0;
  #idleErrors = 0;

  constructor(options: PgConnectorOptions) {
    this.#o = options;
    // our own statements bypass the tracking subclass: they are not the borrower's
    this.#rawQuery = findBaseQuery(options.Client);
    this.#resetDeallocates = classifyStatement(options.resetQuery).deallocates;
    this.#policy = {
      namedStatements: options.namedStatements,
      onSessionState:
        options.pgbouncer === "transaction" ? (kind) => this.#warnSessionState(kind) : undefined,
    };
  }

  async connect({ signal, connectionLost }: ConnectContext): Promise<pg.Client> {
    signal.throwIfAborted();
    this.#o.budget?.throwIfRefused();
    const client = new this.#o.Client(this.#o.clientConfig);
    const session = attachSession(client, this.#policy);
    // a client must always have an error listener: an error event without one kills the process
    client.on("error", (error: Error) => {
      // an idle client leaves the pool now, before listeners hear of it (as with pg.Pool)
      connectionLost?.(error);
      this.#onClientError(client, session, error);
    });
    client.once("end", () => {
      session.broken = true;
      connectionLost?.();
    });
    const onAbort = () => destroySocket(client);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await client.connect();
    } catch (error) {
      session.broken = true;
      destroySocket(client);
      if (signal.aborted) {
        throw databaseError(
          new Error(`connecting to PostgreSQL was abandoned: ${describe(signal.reason)}`, {
            cause: error,
          }),
        );
      }
      throw databaseError(redactError(error, this.#o.secrets));
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
    // a ParameterStatus outside our own statements means the borrower changed a reported setting
    const connection = (client as unknown as { connection?: NodeJS.EventEmitter }).connection;
    connection?.on("parameterStatus", () => {
      if (session.leased && session.internal === 0) session.dirty = true;
    });
    try {
      await this.#o.budget?.check(
        client,
        (c, text) => this.#query(c, text) as Promise<{ rows: Record<string, unknown>[] }>,
      );
    } catch (error) {
      session.broken = true;
      destroySocket(client);
      throw databaseError(error);
    }
    session.initializing = true;
    try {
      await this.#o.hooks.connected(client);
    } catch (error) {
      session.broken = true;
      await this.destroy(client);
      throw error;
    } finally {
      session.initializing = false;
    }
    if (this.#o.allowExitOnIdle) setRef(client, false);
    return client;
  }

  isBroken(client: pg.Client): boolean {
    return sessionOf(client)?.broken !== false;
  }

  async ping(client: pg.Client, { signal }: { signal: AbortSignal }): Promise<void> {
    const session = sessionOf(client) as SessionState;
    if (session.pendingClean !== undefined) await session.pendingClean;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        // a ping that does not answer in time means the connection is unusable
        destroySocket(client);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      session.internal++;
      this.#rawQuery.call(client, "", undefined, (error: Error | null) => {
        session.internal--;
        signal.removeEventListener("abort", onAbort);
        if (error) reject(error);
        else resolve();
      });
    });
  }

  release(client: pg.Client, info: ConnectionInfo): ReleaseDecision | Promise<ReleaseDecision> {
    const session = sessionOf(client);
    if (session === undefined || session.broken) return "destroy";
    session.leased = false;
    // pg can still report "T" just after a failed query whose ReadyForQuery has not arrived yet
    const status = client.getTransactionStatus();
    const needsRollback =
      (status !== "I" && status !== null) ||
      (client as unknown as { readyForQuery?: boolean }).readyForQuery === false;
    const reset = this.#o.reset;
    // behind PgBouncer in transaction mode, server sessions are PgBouncer's: it resets them itself
    const needsReset =
      this.#o.pgbouncer !== "transaction" &&
      (reset === "always" || (reset === "auto" && session.dirty));
    if (this.#o.pgbouncer === "transaction") session.dirty = false;
    if (!needsRollback && !needsReset) {
      if (this.#o.allowExitOnIdle) setRef(client, false);
      return "keep";
    }
    // a rollback is waited for, so pg's transaction status reads "I" to the next borrower
    if (!needsRollback && isQuiet(client))
      return this.#cleanAhead(client, session, info, false, true);
    return this.#clean(client, session, info, needsRollback, needsReset);
  }

  async destroy(client: pg.Client): Promise<void> {
    const session = sessionOf(client);
    if (session !== undefined) session.broken = true;
    try {
      await Promise.race([
        client.end(),
        new Promise<void>((resolve) => setTimeout(resolve, END_TIMEOUT_MILLIS).unref()),
      ]);
    } catch {
      // already gone
    }
    destroySocket(client);
    this.#o.hooks.removed(client);
  }

  classify(error: unknown): ErrorClass {
    if (typeof error === "object" && error !== null && databaseErrors.has(error))
      return "connection";
    return this.#o.classify(error);
  }

  stats(): Readonly<Record<string, number>> {
    return {
      rollbacks: this.#rollbacks,
      resets: this.#resets,
      cleanupFailures: this.#cleanupFailures,
      idleErrors: this.#idleErrors,
    };
  }

  /**
   * In PgBouncer transaction mode, session state outlives the transaction on a server connection
   * that other clients share: say so once per kind of statement, without stopping it.
   */
  #warnSessionState(kind: string): void {
    if (this.#warnedKinds.has(kind)) return;
    this.#warnedKinds.add(kind);
    const message = `Pool "${this.pool?.name ?? "?"}" runs behind PgBouncer in transaction mode, where session state does not stay with this client: a ${kind} statement changed the session of a server connection other clients share (and this client's next transaction may run on another one). Keep session state inside a transaction (SET LOCAL, pg_advisory_xact_lock, ON COMMIT DROP), or use PgBouncer's session mode.`;
    if (this.pool !== undefined && channels.warning.hasSubscribers) {
      channels.warning.publish({
        pool: this.pool,
        code: "LIFEGUARD_PGBOUNCER_SESSION_STATE",
        message,
      });
    } else {
      process.emitWarning(message, {
        type: "LifeguardWarning",
        code: "LIFEGUARD_PGBOUNCER_SESSION_STATE",
      });
    }
  }

  /** ROLLBACK an open transaction, then reset the session and replay its set-up. */
  async #clean(
    client: pg.Client,
    session: SessionState,
    info: ConnectionInfo,
    rollback: boolean,
    reset: boolean,
  ): Promise<ReleaseDecision> {
    session.internal++;
    let timer: NodeJS.Timeout | undefined;
    try {
      const work = (async () => {
        // a statement still running: let it finish first (pg deprecates a query sent meanwhile)
        if (!isQuiet(client)) await new Promise((resolve) => client.once("drain", resolve));
        if (rollback) {
          await this.#query(client, "ROLLBACK");
          this.#rollbacks++;
          this.#publishSession(channels.connectionRollback, info);
        }
        if (reset) {
          await this.#query(client, this.#o.resetQuery);
          if (this.#resetDeallocates !== undefined)
            forgetPreparedStatements(client, this.#resetDeallocates);
          for (const { config, values } of session.init) await this.#query(client, config, values);
          session.dirty = false;
          this.#resets++;
          this.#publishSession(channels.connectionReset, info);
        }
      })();
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`cleaning the session took over ${CLEANUP_TIMEOUT_MILLIS} ms`)),
          CLEANUP_TIMEOUT_MILLIS,
        );
        timer.unref();
      });
      await Promise.race([work, timeout]);
      if (this.#o.allowExitOnIdle) setRef(client, false);
      return "keep";
    } catch {
      this.#cleanupFailures++;
      return "destroy";
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      session.internal--;
    }
  }

  /**
   * On a client with nothing in flight, the clean-up is queued on the client without waiting for
   * its answers and the client goes straight back to the pool. pg runs a client's statements in
   * order, so the next borrower's statements run after the clean-up: it always starts from the
   * clean session. In pg's pipeline mode they even follow it on the wire, so the reset costs no
   * round trip of its own; without it the next borrower waits inside pg instead of in the pool. If
   * the clean-up fails the socket is closed at once (the session can no longer be trusted), and
   * whatever the next borrower queued behind it fails with a connection error rather than running on
   * a dirty session.
   */
  #cleanAhead(
    client: pg.Client,
    session: SessionState,
    info: ConnectionInfo,
    rollback: boolean,
    reset: boolean,
  ): ReleaseDecision {
    const statements: { config: unknown; values?: unknown; done?: () => void }[] = [];
    if (rollback) {
      statements.push({
        config: "ROLLBACK",
        done: () => {
          this.#rollbacks++;
          this.#publishSession(channels.connectionRollback, info);
        },
      });
    }
    if (reset) {
      statements.push({
        config: this.#o.resetQuery,
        done: () => {
          this.#resets++;
          this.#publishSession(channels.connectionReset, info);
        },
      });
      for (const { config, values } of session.init) statements.push({ config, values });
    }
    const fail = () => {
      // a client the pool is already closing (close(), evict) fails its queued clean-up
      // with "Connection terminated": that is not a clean-up failure
      if (!session.broken) this.#cleanupFailures++;
      session.broken = true;
      destroySocket(client);
    };
    if ((client as unknown as { pipeline?: boolean }).pipeline === true) {
      // pipeline mode: write them all now; the next borrower's statements follow on the wire
      let failed = false;
      for (const statement of statements) {
        session.internal++;
        this.#rawQuery.call(client, statement.config, statement.values, (error: Error | null) => {
          session.internal--;
          if (error) {
            if (!failed) fail();
            failed = true;
          } else statement.done?.();
        });
      }
    } else {
      // one at a time; the next borrower's statements wait for the last (see SessionState.pendingClean)
      let finished!: () => void;
      session.pendingClean = new Promise<void>((resolve) => {
        finished = resolve;
      });
      const run = (index: number) => {
        const statement = statements[index];
        if (statement === undefined) {
          session.pendingClean = undefined;
          finished();
          return;
        }
        session.internal++;
        this.#rawQuery.call(client, statement.config, statement.values, (error: Error | null) => {
          session.internal--;
          if (error) {
            fail();
            session.pendingClean = undefined;
            finished();
          } else {
            statement.done?.();
            run(index + 1);
          }
        });
      };
      run(0);
    }
    // the next borrower's named queries are parsed after the reset in the same pipeline
    if (reset) {
      if (this.#resetDeallocates !== undefined)
        forgetPreparedStatements(client, this.#resetDeallocates);
      session.dirty = false;
    }
    if (this.#o.allowExitOnIdle) setRef(client, false);
    return "keep";
  }

  #query(client: pg.Client, config: unknown, values?: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#rawQuery.call(client, config, values, (error: Error | null, result: unknown) =>
        error ? reject(error) : resolve(result),
      );
    });
  }

  #publishSession(channel: (typeof channels)["connectionReset"], info: ConnectionInfo): void {
    const pool = this.pool;
    if (pool === undefined || !channel.hasSubscribers) return;
    channel.publish({ pool, connectionId: info.id, acquireStack: info.acquireStack });
  }

  #onClientError(client: pg.Client, session: SessionState, error: Error): void {
    const wasUsable = !session.broken;
    session.broken = true;
    if (session.leased || !wasUsable) return; // the borrower's query fails; release retires it
    this.#idleErrors++;
    redactError(error, this.#o.secrets);
    if (this.pool !== undefined && channels.connectionError.hasSubscribers) {
      channels.connectionError.publish({ pool: this.pool, error });
    }
    this.#o.hooks.idleError(error, client);
  }
}

/**
 * Errors of opening the session itself (refused, authentication, TLS, budget): the database's, so
 * the pool backs off and fails fast. A rejection of `connect` not in here (an `onConnect`/`verify`
 * hook that threw) classifies as the application's error: the acquire fails with it alone.
 */
const databaseErrors = new WeakSet<object>();
function databaseError<E>(error: E): E {
  if (typeof error === "object" && error !== null) databaseErrors.add(error);
  return error;
}

/** The `query` of the first class above the tracking subclass. */
function findBaseQuery(Client: ClientClass): RawQuery {
  const proto = Object.getPrototypeOf(Client.prototype) as { query?: RawQuery } | null;
  const query = proto?.query ?? (Client.prototype as { query: RawQuery }).query;
  return query;
}

/** pg.Client has ref()/unref() (they hold the socket's reference); @types/pg omits them. */
export function setRef(client: pg.Client, ref: boolean): void {
  const c = client as unknown as { ref?: () => void; unref?: () => void };
  if (ref) c.ref?.();
  else c.unref?.();
}

/**
 * The client has nothing queued or in flight (a statement still running at release must finish
 * before the clean-up, and may take long: that case waits, bounded). pg exposes no public way to
 * ask, so this reads the queues its own code uses.
 */
function isQuiet(client: pg.Client): boolean {
  const c = client as unknown as {
    readyForQuery?: boolean;
    pipeline?: boolean;
    _queryQueue?: unknown[];
    _sentQueryQueue?: unknown[];
    _activeQuery?: unknown;
  };
  return (
    (c.pipeline === true || c.readyForQuery === true) &&
    c._queryQueue?.length === 0 &&
    (c._sentQueryQueue?.length ?? 0) === 0 &&
    (c._activeQuery === null || c._activeQuery === undefined)
  );
}

/** Drops the socket at once: for dead, blackholed or abandoned connections. */
export function destroySocket(client: pg.Client): void {
  const stream = (client as unknown as { connection?: { stream?: { destroy?: () => void } } })
    .connection?.stream;
  stream?.destroy?.();
}

function describe(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}
