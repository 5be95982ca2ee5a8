import type pg from "pg";
import { forgetPreparedStatements } from "./pg-internals.js";
import { sessionOf } from "./session.js";
import { classifyStatement } from "./statement-classifier.js";

type ClientClass = new (config?: pg.ClientConfig) => pg.Client;
type QueryArgs = [config: unknown, values?: unknown, callback?: unknown];

const classes = new WeakMap<ClientClass, ClientClass>();

/**
 * A subclass of the application's pg Client class (pg.Client, or the pool's `Client` option)
 * whose `query()` notes what each statement may leave in the session, for reset `'auto'`, and
 * keeps pg's prepared-statement cache right when the application itself runs DISCARD ALL or
 * DEALLOCATE. Instances are real pg Clients: `instanceof pg.Client` holds.
 * @internal
 */
export function trackedClientClass(Base: ClientClass): ClientClass {
  const existing = classes.get(Base);
  if (existing !== undefined) return existing;
  const baseQuery = Base.prototype.query as (...args: QueryArgs) => unknown;

  class LifeguardClient extends Base {
    override query(...args: QueryArgs): never {
      const pending = sessionOf(this)?.pendingClean;
      if (pending !== undefined) return afterCleanUp(this, pending, args) as never;
      const [config, values, callback] = args;
      const text = textOf(config);
      const session = sessionOf(this);
      if (session !== undefined && text === undefined && !session.initializing) {
        // a query object whose SQL we cannot read: it may do anything
        session.dirty = true;
      }
      if (session !== undefined && text !== undefined) {
        if (!session.policy.namedStatements && (config as { name?: unknown }).name !== undefined) {
          // the same statement, sent unnamed: no server-side statement for a pooler to lose
          args[0] = unnamed(config as { name?: unknown });
        }
        if (session.initializing) {
          session.init.push({
            config: args[0],
            values: typeof values === "function" ? undefined : values,
          });
          // behind PgBouncer in transaction mode, set-up statements land on a shared connection too
          const kind = classifyStatement(text, session).kind;
          if (kind !== undefined) session.policy.onSessionState?.(kind);
        } else {
          const effect = classifyStatement(text, session);
          if (effect.dirty) {
            session.dirty = true;
            if (effect.kind !== undefined) session.policy.onSessionState?.(effect.kind);
          } else if (effect.mayRunUserCode && !session.reportsSearchPath) {
            // a function may change search_path, and this server would not say so
            session.dirty = true;
          }
          if (effect.deallocates !== undefined) {
            return deallocating(
              this,
              baseQuery,
              effect.deallocates,
              args[0],
              values,
              callback,
            ) as never;
          }
        }
      }
      return baseQuery.apply(this, args) as never;
    }
  }
  Object.defineProperty(LifeguardClient, "name", { value: Base.name || "Client" });
  classes.set(Base, LifeguardClient as unknown as ClientClass);
  return LifeguardClient as unknown as ClientClass;
}

/** The SQL of a query: a string, a config or Submittable with `text` (pg-query-stream: its cursor's). @internal */
export function textOf(config: unknown): string | undefined {
  if (typeof config === "string") return config;
  if (config === null || typeof config !== "object") return undefined;
  const { text, cursor } = config as { text?: unknown; cursor?: { text?: unknown } };
  if (typeof text === "string") return text;
  return typeof cursor?.text === "string" ? cursor.text : undefined;
}

/**
 * Runs a query once the clean-up of the previous lease has finished, in whichever form it was
 * called: a promise, a callback, or a Submittable (returned at once, submitted later).
 */
function afterCleanUp(client: pg.Client, pending: Promise<void>, args: QueryArgs): unknown {
  const [config, values, callback] = args;
  const run = () => (client.query as (...a: QueryArgs) => unknown).apply(client, args);
  if (
    config !== null &&
    typeof config === "object" &&
    typeof (config as { submit?: unknown }).submit === "function"
  ) {
    void pending.then(run);
    return config;
  }
  if (typeof values === "function" || typeof callback === "function") {
    void pending.then(run);
    return undefined;
  }
  return pending.then(run);
}

/**
 * The query without its name. A plain config object is copied; a query object (pg's `Query`, a
 * class instance the caller may hold on to for its events) keeps its class, so its name is cleared.
 */
function unnamed(config: { name?: unknown }): object {
  const proto = Object.getPrototypeOf(config) as unknown;
  if (proto === Object.prototype || proto === null) return { ...config, name: undefined };
  config.name = undefined;
  return config;
}

/**
 * Runs a statement that deallocates prepared statements and, once it has succeeded, drops them
 * from pg's cache too (not before: queries queued ahead of it may still use them).
 */
function deallocating(
  client: pg.Client,
  baseQuery: (...args: QueryArgs) => unknown,
  which: "all" | readonly string[],
  config: unknown,
  values: unknown,
  callback: unknown,
): unknown {
  if (typeof values === "function") {
    callback = values;
    values = undefined;
  }
  const done = (error: unknown) => {
    if (error === null || error === undefined) forgetPreparedStatements(client, which);
  };
  if (typeof callback === "function") {
    return baseQuery.call(client, config, values, (error: unknown, result: unknown) => {
      done(error);
      (callback as (e: unknown, r: unknown) => void)(error, result);
    });
  }
  const result = baseQuery.call(client, config, values) as Promise<unknown>;
  return result.then(
    (value) => {
      done(undefined);
      return value;
    },
    (error: unknown) => {
      throw error;
    },
  );
}
