import type { Lease } from "@lifeguard/core";
import { LeaseReleasedError } from "@lifeguard/core";
import type pg from "pg";
import { listenedChannels } from "./listen-channels.js";
import type { SessionState } from "./session.js";
import { sessionOf } from "./session.js";

/** A client as the pool hands it out: a real pg Client with `release()` and `await using`. */
export type LifeguardPoolClient = pg.PoolClient & AsyncDisposable;

/** What a handle reports back when its borrower releases it. @internal */
export type ReleaseHandler = (
  lease: Lease<pg.Client>,
  error: unknown,
  handle: LifeguardPoolClient,
) => void;

type Listener = (...args: unknown[]) => void;

interface HandleTraps extends ProxyHandler<pg.Client> {
  lease: Lease<pg.Client>;
  poolName: string;
  onRelease: ReleaseHandler;
  release?: (error?: unknown) => void;
  dispose?: () => Promise<void>;
  query?: (...args: unknown[]) => unknown;
  // the three below are made on first use: most leases (every pool.query()) never need them
  /** Listeners this lease added, as added to the client: they leave with the lease. */
  listeners: { event: string | symbol; listener: Listener; added: Listener }[] | undefined;
  /** Channels this lease ran LISTEN on: its 'notification' listeners hear only those. */
  channels: Set<string> | undefined;
  /** The methods that add or remove listeners, bound to this lease. */
  methods: Map<PropertyKey, unknown> | undefined;
}

const kBound = Symbol("lifeguard.boundMethods");
type WithBound = pg.Client & { [kBound]?: Map<PropertyKey, { fn: unknown; bound: unknown }> };

const LISTEN_HINT = /listen/i;
const TIMEOUT_HINT = /timeout/i;
const adders = new Set(["on", "addListener", "once", "prependListener", "prependOnceListener"]);
const removers = new Set(["off", "removeListener"]);

/** Handles that are still out, for {@link endHandle}. */
const handlers = new WeakMap<object, HandleTraps>();

/**
 * Each lease hands out its own view of the client (a Proxy over the real pg Client, so
 * `instanceof pg.Client` holds and every method works unchanged) carrying that lease's
 * `release`. A stale handle, kept from an earlier lease, refuses every method (`query`, `end`,
 * `on`, ...) with `LeaseReleasedError` naming the operation: it can never touch the lease of
 * whoever holds the client now. Listeners added through a handle are removed when its lease
 * ends, and its 'notification' listeners hear only the channels this lease listened on.
 */
const traps: Pick<HandleTraps, "get" | "set"> = {
  get(this: HandleTraps, target, prop, receiver) {
    if (prop === "release") {
      this.release ??= (error?: unknown) =>
        this.onRelease(this.lease, error, receiver as LifeguardPoolClient);
      return this.release;
    }
    if (prop === Symbol.asyncDispose) {
      this.dispose ??= () => {
        if (!this.lease.released)
          this.onRelease(this.lease, undefined, receiver as LifeguardPoolClient);
        return Promise.resolve();
      };
      return this.dispose;
    }
    const value = Reflect.get(target, prop, target);
    if (typeof value !== "function") return value;
    // Object's own (constructor, toString, ...) are not operations on the connection
    if (typeof prop === "string" && this.lease.released && !(prop in Object.prototype))
      return refusal(this.poolName, prop);
    if (prop === "query") {
      this.query ??= queryNoting(this, target);
      return this.query;
    }
    if (
      typeof prop === "string" &&
      (adders.has(prop) || removers.has(prop) || prop === "removeAllListeners")
    ) {
      this.methods ??= new Map();
      let method = this.methods.get(prop);
      if (method === undefined) {
        method = listenerMethod(this, target, prop, receiver);
        this.methods.set(prop, method);
      }
      return method;
    }
    return boundMethod(target as WithBound, prop, value as (...args: unknown[]) => unknown);
  },
  set(target, prop, value) {
    return Reflect.set(target, prop, value, target);
  },
};

/** @internal */
export function createClientHandle(
  lease: Lease<pg.Client>,
  poolName: string,
  onRelease: ReleaseHandler,
): LifeguardPoolClient {
  const handler = Object.create(traps) as HandleTraps;
  handler.lease = lease;
  handler.poolName = poolName;
  handler.onRelease = onRelease;
  handler.listeners = undefined;
  handler.channels = undefined;
  handler.methods = undefined;
  const handle = new Proxy(lease.connection, handler) as unknown as LifeguardPoolClient;
  handlers.set(handle, handler);
  return handle;
}

/** The lease behind a handle is ending: the listeners it added leave the client. @internal */
export function endHandle(handle: LifeguardPoolClient, client: pg.Client): void {
  const handler = handlers.get(handle);
  if (handler === undefined) return;
  if (handler.listeners !== undefined) {
    for (const { event, added } of handler.listeners) client.removeListener(event, added);
    handler.listeners = undefined;
  }
  handler.channels = undefined;
}

function refusal(poolName: string, prop: string): () => never {
  return () => {
    const error = new LeaseReleasedError(poolName);
    error.message = `client.${prop}() was called on a client whose lease was already released to pool "${poolName}"; the connection may now belong to another caller, so it was not touched. Borrow a client with pool.connect() and use that one.`;
    throw error;
  };
}

/** `query`, noting the channels a LISTEN subscribes to before pg sends it. */
function queryNoting(handler: HandleTraps, target: pg.Client): (...args: unknown[]) => unknown {
  return (...args: unknown[]) => {
    if (handler.lease.released) return refusal(handler.poolName, "query")();
    const config = args[0];
    const text = typeof config === "string" ? config : (config as { text?: unknown } | null)?.text;
    if (typeof text === "string") {
      // a cheap look first: listenedChannels' full match runs only on text that mentions LISTEN
      if (LISTEN_HINT.test(text)) {
        handler.channels ??= new Set();
        for (const c of listenedChannels(text)) handler.channels.add(c);
      }
      const session = sessionOf(target);
      if (session !== undefined) noteTimeoutsIn(text, session);
    }
    return (target.query as (...a: unknown[]) => unknown).apply(target, args);
  };
}

function listenerMethod(
  handler: HandleTraps,
  target: pg.Client,
  prop: string,
  receiver: unknown,
): (...args: unknown[]) => unknown {
  const emitter = target as unknown as Record<string, (...args: unknown[]) => unknown>;
  if (prop === "removeAllListeners") {
    // only this lease's own: the pool's listeners on the client stay
    return (event?: unknown) => {
      handler.listeners = handler.listeners?.filter((entry) => {
        if (event !== undefined && entry.event !== event) return true;
        target.removeListener(entry.event, entry.added);
        return false;
      });
      return receiver;
    };
  }
  if (removers.has(prop)) {
    return (event: unknown, listener: unknown) => {
      const index = handler.listeners?.findIndex(
        (e) => e.event === event && e.listener === listener,
      );
      if (index !== undefined && index >= 0) {
        const [entry] = (handler.listeners ?? []).splice(index, 1);
        if (entry !== undefined) target.removeListener(entry.event, entry.added);
      }
      return receiver;
    };
  }
  return (event: unknown, listener: unknown) => {
    if (typeof listener !== "function") {
      return (emitter[prop] as (...a: unknown[]) => unknown).call(target, event, listener);
    }
    const once = prop === "once" || prop === "prependOnceListener";
    let added: Listener = listener as Listener;
    if (event === "notification") {
      const own = listener as Listener;
      added = (...args: unknown[]) => {
        const message = args[0] as { channel?: unknown } | undefined;
        // a notification for a channel this lease never listened on is someone else's
        if (typeof message?.channel !== "string" || handler.channels?.has(message.channel) !== true)
          return;
        if (once) forget(handler, target, event, added);
        own(...args);
      };
      emitter[prop.startsWith("prepend") ? "prependListener" : "on"]?.call(target, event, added);
    } else if (once) {
      const own = listener as Listener;
      added = (...args: unknown[]) => {
        forget(handler, target, event as string | symbol, added);
        own(...args);
      };
      emitter[prop === "once" ? "on" : "prependListener"]?.call(target, event, added);
    } else {
      emitter[prop]?.call(target, event, added);
    }
    handler.listeners ??= [];
    handler.listeners.push({
      event: event as string | symbol,
      listener: listener as Listener,
      added,
    });
    return receiver;
  };
}

function forget(handler: HandleTraps, target: pg.Client, event: string | symbol, added: Listener) {
  target.removeListener(event, added);
  handler.listeners = handler.listeners?.filter((e) => e.added !== added);
}

/** Methods bound to the real client once per client, so pg's internals never run through the proxy. */
function boundMethod(
  target: WithBound,
  prop: PropertyKey,
  fn: (...args: unknown[]) => unknown,
): unknown {
  let cache = target[kBound];
  if (cache === undefined) {
    cache = new Map();
    Object.defineProperty(target, kBound, { value: cache, enumerable: false });
  }
  const hit = cache.get(prop);
  if (hit !== undefined && hit.fn === fn) return hit.bound;
  const bound = fn.bind(target);
  cache.set(prop, { fn, bound });
  return bound;
}

/**
 * A statement that mentions a timeout (`SET statement_timeout`, `lock_timeout`, ...) makes the
 * clean-up switch the timeouts off first, so they cannot cancel it. @internal
 */
export function noteTimeouts(config: unknown, session: SessionState): void {
  const text = typeof config === "string" ? config : (config as { text?: unknown } | null)?.text;
  if (typeof text === "string") noteTimeoutsIn(text, session);
}

function noteTimeoutsIn(text: string, session: SessionState): void {
  if (TIMEOUT_HINT.test(text)) session.timeoutsTouched = true;
}
