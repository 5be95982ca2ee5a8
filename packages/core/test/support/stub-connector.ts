import type {
  ConnectContext,
  ConnectionInfo,
  Connector,
  ErrorClass,
  ReleaseDecision,
} from "../../src/index.js";

/** A fake connection: plain state the tests flip. */
export interface StubConnection {
  readonly id: number;
  broken: boolean;
  destroyed: boolean;
  /** What the next ping does: answer, fail, never answer, or wait to be finished by hand. */
  ping: "ok" | "fail" | "hang" | "manual";
  pings: number;
  releases: number;
}

/** An error the stub classifies as a dead connection. */
export class StubConnectionError extends Error {
  readonly kind = "connection";
}

/**
 * An error the stub classifies as the application's (an `onConnect` hook that threw): a connect
 * failing with it is not the database being down.
 */
export class StubStatementError extends Error {
  readonly kind = "statement";
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function remove<T>(list: T[], item: T): void {
  const index = list.indexOf(item);
  if (index !== -1) list.splice(index, 1);
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * A connector whose every behaviour a test can set: connects succeed, fail, or wait to be
 * finished by hand; pings answer, fail or hang; releases keep, destroy or wait.
 * Per-instance state (no static toggles), so tests never leak into each other.
 */
export class StubConnector implements Connector<StubConnection> {
  mode: "ok" | "fail" | "manual" = "ok";
  releaseMode: "keep" | "destroy" | "async" | "throw" = "keep";
  failure: unknown = new Error("connect ECONNREFUSED 127.0.0.1:5432");
  readonly opened: StubConnection[] = [];
  readonly destroyed: StubConnection[] = [];
  connectAttempts = 0;
  /** When false, manual connects ignore the pool's abort (a driver that cannot cancel a connect). */
  honourConnectAbort = true;
  /** Connects waiting for the test to finish them (mode "manual"). */
  readonly pendingConnects: Deferred<StubConnection>[] = [];
  readonly pendingReleases: Deferred<ReleaseDecision>[] = [];
  /** Pings waiting for the test to finish them (connection ping mode "manual"). */
  readonly pendingPings: { connection: StubConnection; deferred: Deferred<void> }[] = [];
  /** What the pool passed to `release()`, in order. */
  readonly releaseInfos: ConnectionInfo[] = [];
  /** Calls the pool should never make: ping/release/destroy of a connection already destroyed. */
  readonly misuse: string[] = [];
  /** The context of every connect, in order (tests call `connectionLost` through it). */
  readonly connectContexts: ConnectContext[] = [];
  /** Errors connects failed with: the database's, unless a {@link StubStatementError}. */
  readonly #connectErrors = new WeakSet<object>();
  #nextId = 1;

  connect(context: ConnectContext): Promise<StubConnection> {
    const { signal } = context;
    this.connectAttempts++;
    this.connectContexts.push(context);
    if (this.mode === "fail") return Promise.reject(this.#connectError(this.failure));
    if (this.mode === "ok") return Promise.resolve(this.#open());
    const d = deferred<StubConnection>();
    this.pendingConnects.push(d);
    if (this.honourConnectAbort) {
      signal.addEventListener(
        "abort",
        () => {
          remove(this.pendingConnects, d);
          d.reject(signal.reason);
        },
        { once: true },
      );
    }
    return d.promise;
  }

  /** Finishes the oldest manual connect successfully. */
  finishConnect(): StubConnection {
    const d = this.pendingConnects.shift();
    if (d === undefined) throw new Error("no pending connect");
    const connection = this.#open();
    d.resolve(connection);
    return connection;
  }

  /** Fails the oldest manual connect. */
  failConnect(error: unknown = this.failure): void {
    const d = this.pendingConnects.shift();
    if (d === undefined) throw new Error("no pending connect");
    d.reject(this.#connectError(error));
  }

  #connectError(error: unknown): unknown {
    if (typeof error === "object" && error !== null) this.#connectErrors.add(error);
    return error;
  }

  isBroken(connection: StubConnection): boolean {
    return connection.broken;
  }

  ping(connection: StubConnection, { signal }: { signal: AbortSignal }): Promise<void> {
    if (connection.destroyed) this.misuse.push(`ping of destroyed connection ${connection.id}`);
    connection.pings++;
    if (connection.ping === "ok") return Promise.resolve();
    if (connection.ping === "fail") return Promise.reject(new StubConnectionError("ping failed"));
    const d = deferred<void>();
    const pending = { connection, deferred: d };
    if (connection.ping === "manual") this.pendingPings.push(pending);
    signal.addEventListener(
      "abort",
      () => {
        remove(this.pendingPings, pending);
        d.reject(signal.reason);
      },
      { once: true },
    );
    return d.promise;
  }

  /** Finishes the oldest manual ping: it answers (`"ok"`) or fails. */
  finishPing(result: "ok" | "fail" = "ok"): StubConnection {
    const p = this.pendingPings.shift();
    if (p === undefined) throw new Error("no pending ping");
    if (result === "ok") p.deferred.resolve();
    else p.deferred.reject(new StubConnectionError("ping failed"));
    return p.connection;
  }

  release(
    connection: StubConnection,
    info: ConnectionInfo,
  ): ReleaseDecision | Promise<ReleaseDecision> {
    if (connection.destroyed) this.misuse.push(`release of destroyed connection ${connection.id}`);
    // a copy: the pool passes its live record, whose fields change after this call
    this.releaseInfos.push({
      id: info.id,
      createdAt: info.createdAt,
      uses: info.uses,
      acquireStack: info.acquireStack,
    });
    connection.releases++;
    if (this.releaseMode === "throw") throw new Error("reset failed");
    if (this.releaseMode !== "async") return this.releaseMode;
    const d = deferred<ReleaseDecision>();
    this.pendingReleases.push(d);
    return d.promise;
  }

  /** Finishes the oldest async release (releaseMode "async") with `decision`. */
  finishRelease(decision: ReleaseDecision = "keep"): void {
    const d = this.pendingReleases.shift();
    if (d === undefined) throw new Error("no pending release");
    d.resolve(decision);
  }

  destroy(connection: StubConnection): void {
    if (connection.destroyed) this.misuse.push(`second destroy of connection ${connection.id}`);
    connection.destroyed = true;
    this.destroyed.push(connection);
  }

  classify(error: unknown): ErrorClass {
    if (error instanceof StubStatementError) return "statement";
    if (error instanceof StubConnectionError) return "connection";
    // a connect that failed for another reason: the database refused it
    return typeof error === "object" && error !== null && this.#connectErrors.has(error)
      ? "connection"
      : "statement";
  }

  /** Connections opened and not yet destroyed. */
  get live(): StubConnection[] {
    return this.opened.filter((c) => !c.destroyed);
  }

  #open(): StubConnection {
    const connection: StubConnection = {
      id: this.#nextId++,
      broken: false,
      destroyed: false,
      ping: "ok",
      pings: 0,
      releases: 0,
    };
    this.opened.push(connection);
    return connection;
  }
}

/** Lets promise callbacks run (the pool's work after an I/O completes). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
