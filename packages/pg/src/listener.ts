import type { Clock } from "@lifeguard/core";
import { InvalidOptionError, PoolClosedError } from "@lifeguard/core";
import { BACKOFF_MAX_MILLIS, backoffDelay } from "@lifeguard/core/internal";
import type pg from "pg";
import type { CredentialSource, IssuedCredentials } from "./credentials.js";
import { applyCredentials } from "./credentials.js";
import type { ListenGap, ListenHandler, ListenOptions, ListenSubscription } from "./listen-api.js";
import { ListenTimeoutError, quoteIdentifier, validateListen } from "./listen-api.js";
import { destroySocket } from "./pg-internals.js";
import { redactError } from "./redact.js";

type ClientClass = new (config?: pg.ClientConfig) => pg.Client;

/** @internal */
export interface ListenerOptions {
  readonly poolName: () => string;
  readonly Client: ClientClass;
  readonly clientConfig: pg.ClientConfig;
  readonly secrets: readonly (string | undefined)[];
  /** Default deadline of a `listen()` call, and of each connect attempt. */
  readonly timeoutMillis: number;
  /** Behind PgBouncer in transaction mode there is no session to LISTEN on. */
  readonly transactionPooler: boolean;
  readonly random?: () => number;
  /** The pool's `credentials`: the LISTEN connection logs in with them too. */
  readonly credentials?: CredentialSource | undefined;
  readonly clock?: Clock;
}

const DEFAULT_TIMEOUT_MILLIS = 10_000;
const END_TIMEOUT_MILLIS = 2000;

class Subscription implements ListenSubscription {
  /** Its LISTEN has been in place on a connection, so a later loss is a gap for it. */
  active = false;
  constructor(
    readonly channel: string,
    readonly handler: ListenHandler,
    readonly options: ListenOptions,
    readonly unlisten: () => Promise<void>,
  ) {}
}

interface PendingListen {
  readonly subscription: Subscription;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** The listener's current connection. */
interface Session {
  readonly client: pg.Client;
  /** Resolves when the connection is lost or retired. */
  readonly lost: Promise<void>;
  readonly fail: (cause: Error | undefined) => void;
  /** Closed on purpose (no channels left, or the pool is ending): not a gap. */
  retiring: boolean;
}

/**
 * The pool's LISTEN connection: one dedicated pg client outside the lending pool, opened on the
 * first `listen()` and closed when the last channel is unlistened or the pool ends. When it is
 * lost it reconnects with the pool's backoff (10 ms doubling to 5 s, jittered), re-issues every
 * LISTEN, and then reports the gap to each subscription that was listening.
 * @internal
 */
export class Listener {
  readonly #o: ListenerOptions;
  readonly #random: () => number;
  readonly #channels = new Map<string, Set<Subscription>>();
  readonly #pending = new Set<PendingListen>();
  /** Channels LISTENed on the current session. */
  readonly #listened = new Set<string>();
  #session: Session | undefined;
  #running: Promise<void> | undefined;
  /** The tail of the queue of LISTEN/UNLISTEN passes, and how many are queued or running. */
  #queue: Promise<void> = Promise.resolve();
  #passes = 0;
  #wake: (() => void) | undefined;
  #closed = false;
  #lastError: unknown;
  /** Set when a listening connection is lost; cleared when the gap is reported. */
  #lost: { at: Date; cause: Error | undefined; missed: Set<Subscription> } | undefined;
  #closing: Promise<void> | undefined;
  /** The client being connected, so close() need not wait for its connect. */
  #connecting: pg.Client | undefined;

  constructor(options: ListenerOptions) {
    this.#o = options;
    this.#random = options.random ?? Math.random;
  }

  listen(
    channel: string,
    handler: ListenHandler,
    options: ListenOptions = {},
  ): Promise<ListenSubscription> {
    try {
      return this.#subscribe(channel, handler, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #subscribe(
    channel: string,
    handler: ListenHandler,
    options: ListenOptions,
  ): Promise<ListenSubscription> {
    const timeoutMillis = options.timeoutMillis ?? this.#o.timeoutMillis ?? DEFAULT_TIMEOUT_MILLIS;
    validateListen(channel, handler, options, timeoutMillis);
    if (this.#o.transactionPooler) {
      throw new InvalidOptionError(
        "pgbouncer",
        `pool.listen() needs a session of its own, and PgBouncer in transaction mode ("pgbouncer": "transaction") shares server sessions between clients, so notifications would go to whichever client holds the server connection. Listen through a Pool that connects to PostgreSQL directly (or to PgBouncer in session mode).`,
      );
    }
    if (this.#closed) throw new PoolClosedError(this.#o.poolName());
    const subscription: Subscription = new Subscription(channel, handler, options, () =>
      this.#remove(subscription),
    );
    let subscribers = this.#channels.get(channel);
    if (subscribers === undefined) {
      subscribers = new Set();
      this.#channels.set(channel, subscribers);
    }
    subscribers.add(subscription);
    if (this.#session !== undefined && this.#listened.has(channel) && this.#passes === 0) {
      subscription.active = true;
      return Promise.resolve<ListenSubscription>(subscription);
    }
    return new Promise<ListenSubscription>((resolve, reject) => {
      const pending: PendingListen = {
        subscription,
        resolve: () => resolve(subscription),
        reject,
        timer: setTimeout(() => {
          this.#pending.delete(pending);
          void this.#remove(subscription);
          reject(
            new ListenTimeoutError(this.#o.poolName(), channel, timeoutMillis, this.#lastError),
          );
        }, timeoutMillis),
      };
      this.#pending.add(pending);
      this.#start();
      if (this.#session !== undefined) void this.#syncOrFail();
    });
  }

  /** Removes `handler` from `channel`, or every handler of it. Resolves once UNLISTEN ran (if connected). */
  async unlisten(channel: string, handler?: ListenHandler): Promise<void> {
    const subscribers = this.#channels.get(channel);
    if (subscribers === undefined) return;
    const removed = [...subscribers].filter((s) => handler === undefined || s.handler === handler);
    await Promise.all(removed.map((s) => this.#remove(s)));
  }

  /** Closes the connection and rejects pending `listen()` calls. Idempotent. */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    const error = new PoolClosedError(this.#o.poolName());
    for (const pending of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.#pending.clear();
    this.#channels.clear();
    this.#lost = undefined;
    this.#closing = (async () => {
      this.#retire();
      if (this.#connecting !== undefined) destroySocket(this.#connecting);
      this.#wake?.();
      await this.#running;
    })();
    return this.#closing;
  }

  async #remove(subscription: Subscription): Promise<void> {
    const subscribers = this.#channels.get(subscription.channel);
    if (subscribers === undefined || !subscribers.delete(subscription)) return;
    for (const pending of this.#pending) {
      if (pending.subscription === subscription) {
        clearTimeout(pending.timer);
        this.#pending.delete(pending);
        pending.resolve(); // its listen() settles; the subscription is simply gone
      }
    }
    if (subscribers.size > 0) return;
    this.#channels.delete(subscription.channel);
    if (this.#channels.size === 0) {
      // nothing to listen to: no connection kept open, no reconnect pending
      this.#retire();
      this.#wake?.();
      return;
    }
    if (this.#session !== undefined) await this.#syncOrFail();
  }

  /** Starts the connection loop unless it runs. */
  #start(): void {
    if (this.#running !== undefined || this.#closed) return;
    this.#running = this.#run().finally(() => {
      this.#running = undefined;
      // a listen() that arrived while the loop was deciding to stop
      if (!this.#closed && this.#channels.size > 0) this.#start();
    });
  }

  /** Connect, LISTEN, report the gap, wait for the loss; again, with backoff, while channels remain. */
  async #run(): Promise<void> {
    let failures = 0;
    let attempts = 0;
    while (!this.#closed && this.#channels.size > 0) {
      // the first reconnect after a connection that lived is immediate; then the pool's backoff
      if (failures > 0) await this.#sleep(backoffDelay(failures, this.#random()));
      if (this.#closed || this.#channels.size === 0) return;
      attempts++;
      let session: Session;
      try {
        session = await this.#open();
        this.#connecting = undefined;
      } catch (error) {
        this.#connecting = undefined;
        this.#lastError = error;
        failures++;
        continue;
      }
      if (this.#closed || this.#channels.size === 0) {
        await closeClient(session.client);
        return;
      }
      this.#session = session;
      await this.#syncOrFail();
      if (this.#session !== session) {
        // LISTEN refused (a standby in recovery) or the connection died under it
        failures++;
        continue;
      }
      const upSince = performance.now();
      this.#reportGap(attempts);
      attempts = 0;
      await session.lost;
      // a connection that keeps dying right after LISTEN backs off like one that cannot connect
      failures = performance.now() - upSince >= BACKOFF_MAX_MILLIS ? 0 : failures + 1;
    }
  }

  async #open(): Promise<Session> {
    const config = Object.defineProperties(
      {},
      Object.getOwnPropertyDescriptors(this.#o.clientConfig),
    ) as pg.ClientConfig;
    // a LISTEN connection sits idle for hours: keepalives find a dead peer that never says so
    if (config.keepAlive === undefined) config.keepAlive = true;
    const credentials = this.#o.credentials;
    let issued: IssuedCredentials | undefined;
    if (credentials !== undefined) issued = await credentials.get();
    const client = new this.#o.Client(config);
    if (issued !== undefined) applyCredentials(client, issued, this.#o.clock as Clock);
    this.#connecting = client;
    let markLost: () => void = () => undefined;
    const lost = new Promise<void>((resolve) => {
      markLost = resolve;
    });
    const session: Session = {
      client,
      lost,
      retiring: false,
      fail: (cause) => {
        if (this.#session === session) this.#onLost(session, cause);
        destroySocket(client);
        markLost();
      },
    };
    // a client must always have an error listener: an 'error' without one kills the process
    client.on("error", (error: Error) => session.fail(redactError(error, this.#o.secrets)));
    client.once("end", () => session.fail(undefined));
    client.on("notification", (message: pg.Notification) => this.#deliver(session, message));
    const timer = setTimeout(() => destroySocket(client), this.#o.timeoutMillis);
    try {
      await client.connect();
    } catch (error) {
      destroySocket(client);
      markLost();
      if (issued === undefined) throw redactError(error, this.#o.secrets);
      const code = (error as { code?: unknown } | null)?.code;
      if (code === "28P01" || code === "28000") credentials?.refused(issued);
      throw redactError(error, [...this.#o.secrets, issued.password]);
    } finally {
      clearTimeout(timer);
    }
    return session;
  }

  #onLost(session: Session, cause: Error | undefined): void {
    this.#session = undefined;
    this.#listened.clear();
    if (session.retiring || this.#closed) return;
    const missed = new Set<Subscription>();
    for (const subscribers of this.#channels.values()) {
      for (const s of subscribers) if (s.active) missed.add(s);
    }
    if (this.#lost === undefined) {
      if (missed.size > 0) this.#lost = { at: new Date(), cause, missed };
    } else {
      for (const s of missed) this.#lost.missed.add(s);
    }
  }

  /** Closes the current connection on purpose (no gap). */
  #retire(): void {
    const session = this.#session;
    if (session === undefined) return;
    session.retiring = true;
    this.#session = undefined;
    this.#listened.clear();
    void closeClient(session.client).finally(() => session.fail(undefined));
  }

  /**
   * Queues one pass that brings the connection's LISTENs in line with the channels wanted. Passes
   * run one at a time, and each reads the wanted channels when it starts, so a channel added
   * while another pass runs is never missed.
   */
  #sync(): Promise<void> {
    this.#passes++;
    const pass = this.#queue
      .then(() => this.#syncLoop())
      .finally(() => {
        this.#passes--;
      });
    this.#queue = pass.catch(() => undefined);
    return pass;
  }

  /** A failed LISTEN retires the connection: the loop reconnects with backoff and tries again. */
  #syncOrFail(): Promise<void> {
    return this.#sync().catch((error: unknown) => {
      this.#lastError = error;
      this.#session?.fail(error instanceof Error ? error : undefined);
    });
  }

  async #syncLoop(): Promise<void> {
    for (;;) {
      // re-read each round: the connection may have been replaced while a batch ran
      const session = this.#session;
      if (session === undefined) return;
      const statements: string[] = [];
      const add = [...this.#channels.keys()].filter((c) => !this.#listened.has(c));
      const remove = [...this.#listened].filter((c) => !this.#channels.has(c));
      for (const c of add) statements.push(`LISTEN ${quoteIdentifier(c)}`);
      for (const c of remove) statements.push(`UNLISTEN ${quoteIdentifier(c)}`);
      if (statements.length === 0) {
        this.#settle();
        return;
      }
      try {
        await session.client.query(statements.join("; "));
      } catch (error) {
        if (this.#session === session) throw redactError(error, this.#o.secrets);
        continue;
      }
      if (this.#session !== session) continue;
      for (const c of add) this.#listened.add(c);
      for (const c of remove) this.#listened.delete(c);
    }
  }

  /** Every subscription whose channel is LISTENed is live; its listen() resolves. */
  #settle(): void {
    for (const [channel, subscribers] of this.#channels) {
      if (!this.#listened.has(channel)) continue;
      for (const s of subscribers) s.active = true;
    }
    for (const pending of this.#pending) {
      if (!pending.subscription.active) continue;
      clearTimeout(pending.timer);
      this.#pending.delete(pending);
      pending.resolve();
    }
  }

  #reportGap(attempts: number): void {
    const lost = this.#lost;
    if (lost === undefined) return;
    this.#lost = undefined;
    const resumedAt = new Date();
    for (const s of lost.missed) {
      if (s.options.onGap === undefined || !this.#channels.get(s.channel)?.has(s)) continue;
      const gap: ListenGap = {
        channel: s.channel,
        disconnectedAt: lost.at,
        resumedAt,
        attempts,
        cause: lost.cause,
      };
      const onGap = s.options.onGap;
      this.#call(s, () => onGap(gap));
    }
  }

  #deliver(session: Session, message: pg.Notification): void {
    // only the current connection delivers: a notification is never handed out twice
    if (this.#session !== session) return;
    const subscribers = this.#channels.get(message.channel);
    if (subscribers === undefined) return;
    for (const s of [...subscribers]) {
      if (subscribers.has(s)) this.#call(s, () => s.handler(message));
    }
  }

  /** Runs application code; its errors go to `onError`, never into the listener. */
  #call(s: Subscription, fn: () => unknown): void {
    const report = (error: unknown) => {
      const onError = s.options.onError;
      if (onError !== undefined) {
        try {
          void onError(error);
          return;
        } catch (inner) {
          error = inner;
        }
      }
      process.emitWarning(
        `a pool.listen() handler for channel "${s.channel}" failed: ${error instanceof Error ? error.message : String(error)}`,
        { type: "LifeguardWarning", code: "LIFEGUARD_LISTEN_HANDLER" },
      );
    };
    try {
      const result = fn();
      if (isThenable(result)) result.then(undefined, report);
    } catch (error) {
      report(error);
    }
  }

  #sleep(millis: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, millis);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    }).finally(() => {
      this.#wake = undefined;
    });
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/** A polite close (Terminate), bounded: a peer that does not answer gets its socket destroyed. */
async function closeClient(client: pg.Client): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      client.end(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, END_TIMEOUT_MILLIS);
      }),
    ]);
  } catch {
    // already gone
  } finally {
    clearTimeout(timer);
    destroySocket(client);
  }
}
