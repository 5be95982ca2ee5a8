import type {
  ConnectContext,
  ConnectionInfo,
  Connector,
  ConnectorContext,
  ErrorClass,
  ReleaseDecision,
  ServerAddress,
  ServerDescription,
} from "./connector.js";

/**
 * A connector wrapped once, so the pool never guards a call itself (Kysely's RuntimeDriver does the
 * same for its drivers): every call that may do I/O returns a promise that never throws
 * synchronously, a local check that throws counts as "broken", a classifier that throws says
 * "unknown" (the pool then retires the connection), and `destroy` never rejects.
 * @internal
 */
export class GuardedConnector<C> {
  readonly #inner: Connector<C>;

  constructor(inner: Connector<C>) {
    this.#inner = inner;
  }

  connect(context: ConnectContext): Promise<C> {
    try {
      return Promise.resolve(this.#inner.connect(context));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  isBroken(connection: C): boolean {
    try {
      return this.#inner.isBroken(connection);
    } catch {
      return true;
    }
  }

  ping(connection: C, context: ConnectorContext): Promise<void> {
    try {
      return Promise.resolve(this.#inner.ping(connection, context));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `'keep'`, `'destroy'`, or a promise of one that never rejects (a rejection means destroy). */
  release(
    connection: C,
    info: ConnectionInfo,
    context: ConnectorContext,
  ): ReleaseDecision | Promise<ReleaseDecision> {
    let decision: ReleaseDecision | Promise<ReleaseDecision>;
    try {
      decision = this.#inner.release(connection, info, context);
    } catch {
      return "destroy";
    }
    if (decision === "keep" || decision === "destroy") return decision;
    return Promise.resolve(decision).then(
      (result) => (result === "keep" ? "keep" : "destroy"),
      () => "destroy" as const,
    );
  }

  /** Closes the connection after the current job; never rejects (the error is not a caller's). */
  destroy(connection: C, context: ConnectorContext): Promise<void> {
    return Promise.resolve()
      .then(() => this.#inner.destroy(connection, context))
      .then(
        () => undefined,
        () => undefined,
      );
  }

  classify(error: unknown): ErrorClass | "unknown" {
    try {
      return this.#inner.classify(error);
    } catch {
      return "unknown";
    }
  }

  /** The connector's cap on a new connection's life; Infinity when it has none (or throws). */
  expiresAt(connection: C, now: number): number {
    if (this.#inner.expiresAt === undefined) return Number.POSITIVE_INFINITY;
    try {
      const at = this.#inner.expiresAt(connection, now);
      return typeof at === "number" && !Number.isNaN(at) ? at : Number.POSITIVE_INFINITY;
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  }

  stats(): Readonly<Record<string, number>> | undefined {
    return this.#inner.stats?.();
  }

  /** The servers of a connector that spreads connections over several; none when it does not (or throws). */
  servers(): readonly ServerDescription[] {
    if (this.#inner.servers === undefined || this.#inner.serverOf === undefined) return noServers;
    try {
      return this.#inner.servers();
    } catch {
      return noServers;
    }
  }

  /** The server `connection` is on; undefined when unknown (or the connector throws). */
  serverOf(connection: C): ServerAddress | undefined {
    try {
      return this.#inner.serverOf?.(connection);
    } catch {
      return undefined;
    }
  }
}

const noServers: readonly ServerDescription[] = Object.freeze([]);
