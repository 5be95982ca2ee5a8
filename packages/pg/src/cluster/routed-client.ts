import type pg from "pg";
import { HostRoleMismatchError, WriteOnReaderError } from "../errors.js";
import { pointAt, socketDestroyed } from "../pg-internals.js";
import { sessionOf } from "../session.js";
import { textOf } from "../tracked-client.js";
import type { ReportedRole } from "./host-probe.js";
import { completeRole, watchRole } from "./host-probe.js";
import type { HostRegistry } from "./host-registry.js";
import type { HostRecord, RoutedConnection } from "./host-state.js";
import { hostMatches } from "./host-state.js";
import { isProvablyReadOnly, isTransactionControl } from "./read-only-statement.js";
import type { TargetSessionAttrs } from "./target.js";
import { roleMatches } from "./target.js";

type ClientClass = new (config?: pg.ClientConfig) => pg.Client;
type ConnectCallback = (error: Error | null, client?: pg.Client) => void;

/** How a pool's connections are routed. */
export interface Route {
  readonly registry: HostRegistry;
  readonly target: TargetSessionAttrs;
  /** Reads with the registry's lag limit. */
  readonly lagLimited: boolean;
  /** How long a connect may wait for a host to match (the pool's acquire timeout). */
  readonly waitMillis: number;
  /**
   * The reader's borrowed clients: a statement not provably read-only is refused before it is
   * sent (WriteOnReaderError), whichever server the connection is on.
   */
  readonly refuseWrites?: boolean;
}

const kRouted = Symbol("lifeguard.cluster.routed");

/** The host a client was routed to and what its server reports (for tests and `cluster.hosts()`). */
export function routedHostOf(client: pg.Client): { host: string; port: number } | undefined {
  const info = (client as { [kRouted]?: { record: HostRecord | undefined } })[kRouted];
  const record = info?.record;
  return record === undefined ? undefined : { host: record.host, port: record.port };
}

/**
 * A subclass of the application's pg Client class whose `connect()` first chooses a host for the
 * route's target (libpq's `target_session_attrs`, from what the registry knows), then checks what
 * the server reported at start-up: a session on a host that turned out not to match is closed and
 * the connect fails (the pool connects again, to another host). Afterwards it listens for the
 * server changing its role mid-session (`in_hot_standby` flips when a standby is promoted), tells
 * the registry, and retires itself when it no longer fits the target. Instances are real pg Clients.
 * @internal
 */
export function routedClientClass(Base: ClientClass, route: Route): ClientClass {
  const { registry, target, lagLimited } = route;
  const baseQuery = Base.prototype.query as (...args: unknown[]) => unknown;
  const rawQuery = (client: pg.Client, text: string) =>
    new Promise<{ rows: Record<string, unknown>[] }>((resolve, reject) =>
      baseQuery.call(client, text, undefined, (error: Error | null, result: unknown) =>
        error ? reject(error) : resolve(result as { rows: Record<string, unknown>[] }),
      ),
    );

  class RoutedClient extends Base {
    readonly [kRouted]: { record: HostRecord | undefined; connection: RoutedConnection };

    constructor(config?: pg.ClientConfig) {
      super(config);
      const self = this as unknown as pg.Client;
      const reported: ReportedRole = { hotStandby: undefined, readOnly: undefined };
      const connection: RoutedConnection = {
        target,
        lagLimited,
        role: undefined,
        retire: () => {
          const session = sessionOf(self);
          if (session !== undefined) session.broken = true;
        },
      };
      const state = { record: undefined as HostRecord | undefined, connection };
      this[kRouted] = state;
      watchRole(self, reported, () => {
        // start-up reports are read once connected; this is a change mid-session
        if (connection.role === undefined || state.record === undefined) return;
        if (reported.hotStandby === undefined || reported.readOnly === undefined) return;
        connection.role = { hotStandby: reported.hotStandby, readOnly: reported.readOnly };
        registry.learned(state.record, connection.role);
        if (!roleMatches(connection.role, target)) connection.retire();
      });
      (this as unknown as { [kReported]: ReportedRole })[kReported] = reported;
      this.once("end", () => {
        const record = state.record;
        if (record === undefined) return;
        registry.untrack(record, connection);
        // a server going away ends every session: learn at once where the roles are now
        registry.suspect(record);
      });
    }

    override query(...args: unknown[]): never {
      if (route.refuseWrites === true) {
        const session = sessionOf(this as unknown as pg.Client);
        // the pool's own statements (ping, rollback, reset) and the session's set-up pass
        if (session?.leased === true && session.internal === 0 && !session.initializing) {
          const refusal = writeRefusal(args[0]);
          if (refusal !== undefined) return refuse(refusal, args) as never;
        }
      }
      return baseQuery.apply(this, args) as never;
    }

    override connect(): Promise<pg.Client>;
    override connect(callback: ConnectCallback): void;
    override connect(callback?: ConnectCallback): Promise<pg.Client> | undefined {
      if (callback === undefined) {
        return new Promise<pg.Client>((resolve, reject) =>
          this.connect((error) => (error ? reject(error) : resolve(this as unknown as pg.Client))),
        );
      }
      const self = this as unknown as pg.Client;
      const state = this[kRouted];
      const reported = (this as unknown as { [kReported]: ReportedRole })[kReported];
      // gives up a little before the acquire does, so its error is the acquire's cause
      const deadline = performance.now() + Math.max(route.waitMillis - 200, route.waitMillis / 2);
      registry
        .choose(target, lagLimited, deadline, () => socketDestroyed(self))
        .then(
          (record) => {
            pointAt(self, record);
            state.record = record;
            let opening = true;
            const settle = () => {
              if (!opening) return;
              opening = false;
              registry.opened(record);
            };
            super.connect((error?: Error) => {
              if (error) {
                settle();
                registry.failed(record, error);
                return callback(error);
              }
              void completeRole(self, reported, rawQuery).then(
                (role) => {
                  settle();
                  state.connection.role = role;
                  registry.learned(record, role);
                  if (
                    !hostMatches(record, target, false, undefined) ||
                    !roleMatches(role, target)
                  ) {
                    void this.end().catch(noop);
                    return callback(
                      new HostRoleMismatchError(
                        `host ${record.key} is ${role.hotStandby ? "a standby" : "a primary"}${role.readOnly ? " (read-only)" : ""} now, not a match for target_session_attrs=${target}; connecting again`,
                      ),
                    );
                  }
                  registry.track(record, state.connection);
                  callback(null, self);
                },
                (roleError: Error) => {
                  settle();
                  callback(roleError);
                },
              );
            });
          },
          (error: Error) => callback(error),
        );
      return undefined;
    }
  }
  Object.defineProperty(RoutedClient, "name", { value: Base.name || "Client" });
  return RoutedClient as unknown as ClientClass;
}

/** Why a reader's client may not send this statement, or undefined when it may. */
function writeRefusal(config: unknown): WriteOnReaderError | undefined {
  const text = textOf(config);
  if (text !== undefined && (isProvablyReadOnly(text) || isTransactionControl(text)))
    return undefined;
  const shown =
    text === undefined ? "a query object without text" : JSON.stringify(text.slice(0, 80));
  return new WriteOnReaderError(
    `A client borrowed from the cluster's reader may only run statements that provably write nothing (and BEGIN/COMMIT for read-only transactions); ${shown} was refused before it was sent. Borrow from cluster.writer for work that writes, or run it with cluster.reader.query(), which sends it to the writer. See docs/cluster.md.`,
  );
}

/** Fails a query in the form it was called: callback, Submittable, or promise. */
function refuse(error: Error, args: unknown[]): unknown {
  const [config, values, callback] = args;
  const done = typeof values === "function" ? values : callback;
  if (typeof done === "function") {
    process.nextTick(done as (error: Error) => void, error);
    return undefined;
  }
  const submittable = config as { submit?: unknown; handleError?: (error: Error) => void };
  if (config !== null && typeof config === "object" && typeof submittable.submit === "function") {
    process.nextTick(() => submittable.handleError?.(error));
    return config;
  }
  return Promise.reject(error);
}

const kReported = Symbol("lifeguard.cluster.reported");
const noop = () => {};
