import type { Connector, ErrorClass, ReleaseDecision } from "../../src/index.js";

/** A fake connection: plain state the tests flip. */
export interface StubConnection {
  readonly id: number;
  broken: boolean;
  destroyed: boolean;
  /** What the next ping does: answer, fail, or never answer. */
  ping: "ok" | "fail" | "hang";
  pings: number;
  releases: number;
}

/** An error the stub classifies as a dead connection. */
export class StubConnectionError extends Error {
  readonly kind = "connection";
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
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
  /** Connects waiting for the test to finish them (mode "manual"). */
  readonly pendingConnects: Deferred<StubConnection>[] = [];
  readonly pendingReleases: Deferred<ReleaseDecision>[] = [];
  #nextId = 1;

  connect({ signal }: { signal: AbortSignal }): Promise<StubConnection> {
    this.connectAttempts++;
    if (this.mode === "fail") return Promise.reject(this.failure);
    if (this.mode === "ok") return Promise.resolve(this.#open());
    const d = deferred<StubConnection>();
    this.pendingConnects.push(d);
    signal.addEventListener("abort", () => d.reject(signal.reason), { once: true });
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
    d.reject(error);
  }

  isBroken(connection: StubConnection): boolean {
    return connection.broken;
  }

  ping(connection: StubConnection, { signal }: { signal: AbortSignal }): Promise<void> {
    connection.pings++;
    if (connection.ping === "ok") return Promise.resolve();
    if (connection.ping === "fail") return Promise.reject(new StubConnectionError("ping failed"));
    return new Promise((_, reject) => {
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
  }

  release(connection: StubConnection): ReleaseDecision | Promise<ReleaseDecision> {
    connection.releases++;
    if (this.releaseMode === "throw") throw new Error("reset failed");
    if (this.releaseMode !== "async") return this.releaseMode;
    const d = deferred<ReleaseDecision>();
    this.pendingReleases.push(d);
    return d.promise;
  }

  destroy(connection: StubConnection): void {
    connection.destroyed = true;
    this.destroyed.push(connection);
  }

  classify(error: unknown): ErrorClass {
    return error instanceof StubConnectionError ? "connection" : "statement";
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
