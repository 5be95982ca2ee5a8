import type {
  Clock,
  ConnectContext,
  ConnectionInfo,
  Connector,
  ConnectorContext,
  ErrorClass,
  ReleaseDecision,
  ServerAddress,
  ServerDescription,
} from "@lifeguard/core";
import type pg from "pg";
import type { BudgetCheck } from "./budget.js";
import type { HostRegistry } from "./cluster/host-registry.js";
import { routedHostOf } from "./cluster/routed-client.js";
import type { CredentialSource, IssuedCredentials } from "./credentials.js";
import { applyCredentials, raceAbort } from "./credentials.js";
import { CredentialsUnavailableError } from "./credentials-api.js";
import { SessionCleanupTimeoutError } from "./errors.js";
import type { PgBouncerMode, ResetMode } from "./options.js";
import {
  awaitsReadyForQuery,
  destroySocket,
  forgetPreparedStatements,
  isPipelined,
  isQuiet,
  onParameterStatus,
  setRef,
} from "./pg-internals.js";
import { redactError } from "./redact.js";
import type { SessionPolicy, SessionState } from "./session.js";
import { attachSession, sessionOf } from "./session.js";
import { classifyStatement } from "./statement-classifier.js";

type ClientClass = new (config?: pg.ClientConfig) => pg.Client;
type RawQuery = (this: pg.Client, config: unknown, values?: unknown, callback?: unknown) => unknown;

/** How long cleaning a session (ROLLBACK, reset) may take before the connection is closed instead. */
const CLEANUP_TIMEOUT_MILLIS = 5000;
/**
 * Run before a reset when the lease touched a timeout: the session being cleaned may carry the
 * last borrower's short statement_timeout or lock_timeout, which must not cancel the clean-up.
 */
const CLEANUP_GUARD =
  "select set_config('statement_timeout', '0', false), set_config('lock_timeout', '0', false), set_config('idle_in_transaction_session_timeout', '0', false)";
/** After a reset that leaves settings alone (a custom `resetQuery`): the guard's settings back to the session's defaults. */
const CLEANUP_RESTORE =
  "select set_config(name, reset_val, false) from pg_settings where name in ('statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout')";
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
  /** A clean-up step finished: the ROLLBACK, or the whole reset (for the session channels). */
  sessionCleaned(step: "rollback" | "reset", info: ConnectionInfo): void;
  /** Something the application should hear of, with a stable `LIFEGUARD_*` code; `message` names the pool. */
  warning(code: string, message: (poolName: string) => string): void;
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
  /** The fleet's connection budget, checked on the first connect to each server. */
  readonly budget?: BudgetCheck | undefined;
  /** The bound on every clean-up (default 5000 ms); tests shorten it. */
  readonly cleanupTimeoutMillis?: number | undefined;
  /** The `credentials` option's source: each connect logs in with its current credentials. */
  readonly credentials?: CredentialSource | undefined;
  /** Where a connection opened with credentials rotated meanwhile draws its retirement moment. */
  readonly random?: (() => number) | undefined;
  /** Several hosts (cluster mode): where each connection went, for `pool.servers()` and metrics. */
  readonly hosts?: HostRegistry | undefined;
}

/** How many times one connect logs in again after its credentials were refused or expired. */
const STALE_CREDENTIAL_RETRIES = 2;

/** A connection opened with credentials that do not expire, rotated while it connected, retires within this window. */
const ROTATION_SPREAD_MILLIS = 60_000;

/**
 * The PostgreSQL connector on `pg`: opens clients within the pool's deadline, checks them with an
 * empty query, and brings each session back to clean on release (the release protocol in docs/pg.md).
 */
export class PgConnector implements Connector<pg.Client> {
  readonly #o: PgConnectorOptions;
  readonly #rawQuery: RawQuery;
  readonly #resetDeallocates: "all" | readonly string[] | undefined;
  readonly #policy: SessionPolicy;
  readonly #warnedKinds = new Set<string>();
  readonly #cleanupTimeout: number;
  /** The reset returns every setting to its default (DISCARD ALL, RESET ALL): no restore needed. */
  readonly #resetRestoresSettings: boolean;
  #rollbacks = 0;
  #resets = 0;
  #cleanupFailures = 0;
  #idleErrors = 0;
  /** The credentials each client logged in with, for its lifetime cap. */
  readonly #issued = new WeakMap<pg.Client, IssuedCredentials>();

  constructor(options: PgConnectorOptions) {
    this.#o = options;
    // our own statements bypass the tracking subclass: they are not the borrower's
    this.#rawQuery = findBaseQuery(options.Client);
    this.#resetDeallocates = classifyStatement(options.resetQuery).deallocates;
    this.#cleanupTimeout = options.cleanupTimeoutMillis ?? CLEANUP_TIMEOUT_MILLIS;
    this.#resetRestoresSettings = /^\s*(?:discard|reset)\s+all\s*;?\s*$/i.test(options.resetQuery);
    this.#policy = {
      namedStatements: options.namedStatements,
      onSessionState:
        options.pgbouncer === "transaction" ? (kind) => this.#warnSessionState(kind) : undefined,
    };
  }

  /**
   * Opens one client: socket, budget check, then the pool's set-up (the 'connect' event,
   * `onConnect`, `verify`). The pool's deadline and `end()` abort every stage: the socket is
   * closed at once, even while a hook still runs, so no connection outlives its slot in `max`.
   */
  async connect(context: ConnectContext): Promise<pg.Client> {
    const { signal } = context;
    signal.throwIfAborted();
    this.#o.budget?.throwIfRefused();
    const source = this.#o.credentials;
    if (source === undefined) return this.#connectWith(context, undefined);
    let issued = await this.#credentials(signal);
    for (let retry = 0; ; retry++) {
      try {
        return await this.#connectWith(context, issued);
      } catch (error) {
        // a password rotated before its announced expiry, or credentials that expired on the way:
        // retried with fresh ones inside this connect's deadline, so the waiters keep waiting and
        // the pool's circuit does not count a rotation as the database failing
        const why = staleCredentials(error);
        if (why === undefined || retry === STALE_CREDENTIAL_RETRIES || signal.aborted) throw error;
        const fresh = await source.renew(issued, why, signal);
        if (fresh === undefined) throw error;
        issued = fresh;
      }
    }
  }

  async #connectWith(
    { signal, clock, poolName, connectionLost }: ConnectContext,
    issued: IssuedCredentials | undefined,
  ): Promise<pg.Client> {
    const client = new this.#o.Client(this.#o.clientConfig);
    if (issued !== undefined) {
      applyCredentials(client, issued, clock);
      this.#issued.set(client, issued);
    }
    const session = attachSession(client, this.#policy);
    this.#watch(client, session, connectionLost);
    let abandon!: (error: Error) => void;
    const abandoned = new Promise<never>((_, reject) => {
      abandon = reject;
    });
    const onAbort = () => {
      session.broken = true;
      destroySocket(client);
      abandon(
        databaseError(
          new Error(`connecting to PostgreSQL was abandoned: ${describe(signal.reason)}`, {
            cause: signal.reason,
          }),
        ),
      );
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const opening = this.#open(client, session, clock, poolName);
    // a hung stage settles after we gave up on it: nobody waits for it any more
    opening.catch(noop);
    try {
      return await Promise.race([opening, abandoned]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /**
   * The client's own 'error' and 'end' listeners, made in a scope of their own: they live as long
   * as the connection, and closures made inside `connect()` would keep its abort machinery (the
   * race, its promise, the attempt's signal) alive with them.
   */
  #watch(
    client: pg.Client,
    session: SessionState,
    connectionLost: ConnectContext["connectionLost"] | undefined,
  ): void {
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
  }

  async #open(
    client: pg.Client,
    session: SessionState,
    clock: Clock,
    poolName: string,
  ): Promise<pg.Client> {
    try {
      // the callback form: a custom Client whose connect() only takes a callback works too
      await new Promise<void>((resolve, reject) =>
        client.connect((error?: Error) => (error ? reject(error) : resolve())),
      );
    } catch (error) {
      session.broken = true;
      destroySocket(client);
      const issued = this.#issued.get(client);
      if (issued !== undefined) {
        // refused before their announced expiry (rotated early): the next connect fetches anew
        if (isAuthenticationFailure(error)) this.#o.credentials?.refused(issued);
        throw databaseError(redactError(error, [...this.#o.secrets, issued.password]));
      }
      throw databaseError(redactError(error, this.#o.secrets));
    }
    // a ParameterStatus outside our own statements means the borrower changed a reported setting
    onParameterStatus(client, () => {
      if (session.leased && session.internal === 0) session.dirty = true;
    });
    try {
      await this.#o.budget?.check(
        client,
        (c, text) => this.#query(c, text) as Promise<{ rows: Record<string, unknown>[] }>,
        poolName,
        (code, message) => this.#o.hooks.warning(code, message),
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
      // the application's set-up failed on a live connection: its error, not the database's
      const hookError = session.broken ? databaseError(error) : markHookError(error);
      session.broken = true;
      // never lent, so no 'remove' event (pg.Pool emits none either)
      await this.#close(client, clock, undefined);
      throw hookError;
    } finally {
      session.initializing = false;
    }
    if (this.#o.allowExitOnIdle) setRef(client, false);
    return client;
  }

  /**
   * The current credentials, or the fetch every connect waiting for them shares, raced with the
   * connect's deadline. No usable credentials is the application's error: the acquire that asked
   * fails with it, without the backoff and circuit meant for a database that does not answer.
   */
  async #credentials(signal: AbortSignal): Promise<IssuedCredentials> {
    const source = this.#o.credentials as CredentialSource;
    try {
      return await raceAbort(source.get(), signal);
    } catch (error) {
      if (signal.aborted && error === signal.reason) throw error;
      throw markHookError(error);
    }
  }

  /**
   * Connections never outlive the credentials they logged in with; one whose credentials were
   * rotated while it connected retires at a random moment before they expire (or within a minute
   * when they do not), like the connections the rotation found open.
   */
  expiresAt(client: pg.Client, now: number): number | undefined {
    const issued = this.#issued.get(client);
    const source = this.#o.credentials;
    if (issued === undefined || source === undefined) return undefined;
    if (source.isCurrent(issued)) return issued.expiresAt;
    const window =
      issued.expiresAt === Number.POSITIVE_INFINITY
        ? ROTATION_SPREAD_MILLIS
        : issued.expiresAt - now;
    return now + window * (this.#o.random ?? Math.random)();
  }

  isBroken(client: pg.Client): boolean {
    return sessionOf(client)?.broken !== false;
  }

  async ping(client: pg.Client, { signal }: ConnectorContext): Promise<void> {
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

  release(
    client: pg.Client,
    info: ConnectionInfo,
    { clock }: ConnectorContext,
  ): ReleaseDecision | Promise<ReleaseDecision> {
    const session = sessionOf(client);
    if (session === undefined || session.broken) return "destroy";
    session.leased = false;
    // pg can still report "T" just after a failed query whose ReadyForQuery has not arrived yet
    const status = client.getTransactionStatus();
    const needsRollback = (status !== "I" && status !== null) || awaitsReadyForQuery(client);
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
    if (!needsRollback && isQuiet(client)) return this.#cleanAhead(client, session, info, clock);
    return this.#clean(client, session, info, clock, needsRollback, needsReset);
  }

  async destroy(client: pg.Client, { clock, signal }: ConnectorContext): Promise<void> {
    await this.#close(client, clock, signal);
    this.#o.hooks.removed(client);
  }

  /**
   * Closes politely, bounded on the pool's clock and cut short when `close()` stops waiting; then
   * drops the socket whatever happened.
   */
  async #close(client: pg.Client, clock: Clock, signal: AbortSignal | undefined): Promise<void> {
    const session = sessionOf(client);
    if (session !== undefined) session.broken = true;
    let timer: unknown;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        client.end(),
        new Promise<void>((resolve) => {
          timer = armTimer(clock, resolve, END_TIMEOUT_MILLIS);
          if (signal === undefined) return;
          if (signal.aborted) return resolve();
          onAbort = resolve;
          signal.addEventListener("abort", onAbort, { once: true });
        }),
      ]);
    } catch {
      // already gone
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer);
      if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
    }
    destroySocket(client);
  }

  classify(error: unknown): ErrorClass {
    if (typeof error === "object" && error !== null && databaseErrors.has(error))
      return "connection";
    if (isHookError(error)) return "statement";
    return this.#o.classify(error);
  }

  /** The hosts of a multi-host pool (none for a single host): read at metrics collection only. */
  servers(): readonly ServerDescription[] {
    return this.#o.hosts?.servers() ?? noServers;
  }

  serverOf(client: pg.Client): ServerAddress | undefined {
    const at = routedHostOf(client);
    return at === undefined ? undefined : { address: at.host, port: at.port };
  }

  stats(): Readonly<Record<string, number>> {
    const counts = {
      rollbacks: this.#rollbacks,
      resets: this.#resets,
      cleanupFailures: this.#cleanupFailures,
      idleErrors: this.#idleErrors,
    };
    const source = this.#o.credentials;
    if (source === undefined) return counts;
    return {
      ...counts,
      credentialFetches: source.fetches,
      credentialFetchFailures: source.fetchFailures,
      credentialRotations: source.rotations,
    };
  }

  /**
   * In PgBouncer transaction mode, session state outlives the transaction on a server connection
   * that other clients share: say so once per kind of statement, without stopping it.
   */
  #warnSessionState(kind: string): void {
    if (this.#warnedKinds.has(kind)) return;
    this.#warnedKinds.add(kind);
    this.#o.hooks.warning(
      "LIFEGUARD_PGBOUNCER_SESSION_STATE",
      (poolName) =>
        `Pool "${poolName}" runs behind PgBouncer in transaction mode, where session state does not stay with this client: a ${kind} statement changed the session of a server connection other clients share (and this client's next transaction may run on another one). Keep session state inside a transaction (SET LOCAL, pg_advisory_xact_lock, ON COMMIT DROP), or use PgBouncer's session mode.`,
    );
  }

  /**
   * The clean-up, in order: ROLLBACK, then (for a reset) the timeout guard, `resetQuery`, the
   * restore of the guarded settings when `resetQuery` leaves them alone, and the replay of the
   * session's set-up.
   */
  #cleanupSteps(session: SessionState, info: ConnectionInfo, rollback: boolean, reset: boolean) {
    const steps: { config: unknown; values?: unknown; done?: () => void }[] = [];
    if (rollback) {
      steps.push({
        config: "ROLLBACK",
        done: () => {
          this.#rollbacks++;
          this.#o.hooks.sessionCleaned("rollback", info);
        },
      });
    }
    if (!reset) return steps;
    // only when the lease touched a timeout: most resets stay one statement
    const guard = session.timeoutsTouched;
    session.timeoutsTouched = false;
    if (guard) steps.push({ config: CLEANUP_GUARD });
    steps.push({ config: this.#o.resetQuery });
    if (guard && !this.#resetRestoresSettings) steps.push({ config: CLEANUP_RESTORE });
    for (const { config, values } of session.init) steps.push({ config, values });
    const last = steps[steps.length - 1] as { done?: () => void };
    last.done = () => {
      session.dirty = false;
      this.#resets++;
      this.#o.hooks.sessionCleaned("reset", info);
    };
    return steps;
  }

  /** ROLLBACK an open transaction, then reset the session and replay its set-up; bounded. */
  async #clean(
    client: pg.Client,
    session: SessionState,
    info: ConnectionInfo,
    clock: Clock,
    needsRollback: boolean,
    reset: boolean,
  ): Promise<ReleaseDecision> {
    session.internal++;
    let timer: unknown;
    try {
      const work = (async () => {
        // a statement still running: let it finish first (pg deprecates a query sent meanwhile);
        // a connection that dies meanwhile never drains, so its end settles the wait too
        if (!isQuiet(client)) await drainedOrEnded(client, session);
        for (const step of this.#cleanupSteps(session, info, needsRollback, reset)) {
          await this.#query(client, step.config, step.values);
          if (step.config === this.#o.resetQuery && this.#resetDeallocates !== undefined)
            forgetPreparedStatements(client, this.#resetDeallocates);
          step.done?.();
        }
      })();
      work.catch(noop); // it may fail after the bound already decided
      const timeout = new Promise<never>((_, reject) => {
        timer = armTimer(
          clock,
          () => reject(new SessionCleanupTimeoutError(this.#cleanupTimeout)),
          this.#cleanupTimeout,
        );
      });
      await Promise.race([work, timeout]);
      if (this.#o.allowExitOnIdle) setRef(client, false);
      return "keep";
    } catch {
      this.#cleanupFailures++;
      session.broken = true;
      return "destroy";
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer);
      session.internal--;
    }
  }

  /**
   * On a client with nothing in flight, the reset is sent without the pool waiting for it: the
   * client goes straight back to the pool, and whoever borrows it next waits for the reset to
   * finish before the client is handed over (`SessionState.pendingClean`). In pg's pipeline mode
   * the statements are written at once. The clean-up has the same bound as every other; if it
   * fails or runs out of time the socket is closed and the borrower is given another connection:
   * a borrower never sees a clean-up's failure.
   */
  #cleanAhead(
    client: pg.Client,
    session: SessionState,
    info: ConnectionInfo,
    clock: Clock,
  ): ReleaseDecision {
    const steps = this.#cleanupSteps(session, info, false, true);
    let finished!: () => void;
    session.pendingClean = new Promise<void>((resolve) => {
      finished = resolve;
    });
    let settled = false;
    let timer: unknown;
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      if (!ok) {
        // a client the pool is already closing (close(), evict) fails its queued clean-up
        // with "Connection terminated": that is not a clean-up failure
        if (!session.broken) this.#cleanupFailures++;
        session.broken = true;
        destroySocket(client);
      }
      session.pendingClean = undefined;
      finished();
    };
    timer = armTimer(clock, () => finish(false), this.#cleanupTimeout);
    const send = (index: number, next: (() => void) | undefined) => {
      const step = steps[index] as (typeof steps)[number];
      session.internal++;
      this.#rawQuery.call(client, step.config, step.values, (error: Error | null) => {
        session.internal--;
        if (error) return finish(false);
        if (step.config === this.#o.resetQuery && this.#resetDeallocates !== undefined)
          forgetPreparedStatements(client, this.#resetDeallocates);
        step.done?.();
        if (index === steps.length - 1) finish(true);
        else next?.();
      });
    };
    if (isPipelined(client)) {
      for (let i = 0; i < steps.length; i++) send(i, undefined);
    } else {
      const run = (index: number) => send(index, () => run(index + 1));
      run(0);
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

  #onClientError(client: pg.Client, session: SessionState, error: Error): void {
    const wasUsable = !session.broken;
    session.broken = true;
    if (session.leased || !wasUsable) return; // the borrower's query fails; release retires it
    this.#idleErrors++;
    redactError(error, this.#o.secrets);
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

/** Resolves when the client's running statements finish; rejects when its connection ends first. */
function drainedOrEnded(client: pg.Client, session: SessionState): Promise<void> {
  if (session.broken) return Promise.reject(new Error("the connection ended mid-statement"));
  return new Promise<void>((resolve, reject) => {
    const drained = () => {
      client.off("end", ended);
      resolve();
    };
    const ended = () => {
      client.off("drain", drained);
      reject(new Error("the connection ended mid-statement"));
    };
    client.once("drain", drained);
    client.once("end", ended);
  });
}

/** Arms a timer on the pool's clock, unref'd when the handle has `unref` (as the pool does). */
function armTimer(clock: Clock, callback: () => void, delayMillis: number): unknown {
  const handle = clock.setTimeout(callback, delayMillis);
  (handle as { unref?: () => void } | null)?.unref?.();
  return handle;
}

const noop = () => {};
const noServers: readonly ServerDescription[] = Object.freeze([]);

/** Errors the application's own set-up hooks threw on a live connection. */
const hookErrors = new WeakSet<object>();

/**
 * Tags an error from `onConnect`, `verify` or a 'connect' listener so `classify()` calls it a
 * statement error: the application's failure, not the database's availability. The error itself is
 * what the caller receives (a thrown non-object is wrapped, with it as `cause`).
 */
function markHookError(error: unknown): object {
  const tagged =
    error !== null && typeof error === "object"
      ? error
      : new Error(`the pool's connection set-up failed: ${String(error)}`, { cause: error });
  hookErrors.add(tagged);
  return tagged;
}

function isHookError(error: unknown): boolean {
  return error !== null && typeof error === "object" && hookErrors.has(error);
}

/** Why a connect failed because of the credentials it used, if it did. */
function staleCredentials(error: unknown): "refused" | "expired" | undefined {
  if (isAuthenticationFailure(error)) return "refused";
  // thrown by the password function when pg asked for it after they expired: nothing was sent
  if (error instanceof CredentialsUnavailableError) return "expired";
  return undefined;
}

/** invalid_password (28P01) or invalid_authorization_specification (28000): the login was refused. */
function isAuthenticationFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "28P01" || code === "28000";
}

function describe(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}
