import { createHmac, randomBytes } from "node:crypto";
import { InvalidOptionError } from "@lifeguard/core";

/** Options of `Pool.shared()`. */
export interface SharedPoolOptions {
  /**
   * The registry slot. Default: derived from the connection target (`name`, `connectionString`,
   * `host`, `port`, `database`, `user`), so a changed `max` replaces the pool but two pools on two
   * databases live side by side. Pass a key to replace a pool even when its target changes.
   */
  key?: string;
}

/** What the registry needs from a pool. */
interface EndablePool {
  end(): Promise<void>;
  readonly ending: boolean;
}

interface Entry {
  /** HMAC of the whole configuration: no value of it is kept, secret or not. */
  readonly fingerprint: string;
  readonly pool: EndablePool;
}

/** @internal */
export interface SharedPoolRegistry {
  /** Per-process HMAC key: the fingerprints mean nothing outside this process. */
  readonly salt: Buffer;
  readonly entries: Map<string, Entry>;
  /** Stable ids for objects a configuration holds by reference (a socket factory, a clock). */
  readonly ids: WeakMap<object, number>;
  nextId: number;
}

/** On globalThis, under a registered symbol: every copy of this module (each hot reload) finds it. */
const kRegistry = Symbol.for("lifeguard.pg.sharedPools");

/** @internal */
export function sharedPoolRegistry(): SharedPoolRegistry {
  const holder = globalThis as { [kRegistry]?: SharedPoolRegistry };
  holder[kRegistry] ??= {
    salt: randomBytes(32),
    entries: new Map(),
    ids: new WeakMap(),
    nextId: 1,
  };
  return holder[kRegistry];
}

/**
 * The pool registered for this configuration if it is still open; otherwise a new one, which
 * takes the slot and ends the pool it supersedes. @internal (use `Pool.shared`)
 */
export function sharedPool<C extends object, P extends EndablePool>(
  Pool: new (config: C) => P,
  config: C,
  options: SharedPoolOptions = {},
): P {
  if (options === null || typeof options !== "object") {
    throw new InvalidOptionError(
      "options",
      "Pool.shared(config, options): options must be an object such as { key: 'orders' }.",
    );
  }
  const { key } = options;
  if (key !== undefined && (typeof key !== "string" || key === "")) {
    throw new InvalidOptionError(
      "key",
      `Pool.shared(config, { key }): "key" must be a non-empty string; got ${JSON.stringify(key)}.`,
    );
  }
  const registry = sharedPoolRegistry();
  const record = (config ?? {}) as Record<string, unknown>;
  const slot =
    key ??
    `target:${digest(registry, {
      name: record["name"],
      connectionString: record["connectionString"],
      host: record["host"],
      port: record["port"],
      database: record["database"],
      user: record["user"],
    })}`;
  const fingerprint = digest(registry, config);
  const existing = registry.entries.get(slot);
  if (existing !== undefined && existing.fingerprint === fingerprint && !existing.pool.ending) {
    return existing.pool as P;
  }
  // the superseded pool finishes what it has in flight (up to shutdownTimeoutMillis), then
  // closes; ended first, so its name is free for the new pool's metrics at once
  if (existing !== undefined) {
    registry.entries.delete(slot);
    if (!existing.pool.ending) void existing.pool.end().catch(() => undefined);
  }
  const pool = new Pool(config);
  registry.entries.set(slot, { fingerprint, pool });
  return pool;
}

function digest(registry: SharedPoolRegistry, value: unknown): string {
  return createHmac("sha256", registry.salt)
    .update(canonical(registry, value, new Set()))
    .digest("base64url");
}

/**
 * One string per configuration, equal for equal configurations built anew (as a re-run module
 * builds them): keys sorted, functions by their source, buffers by their bytes, class instances
 * by identity. Hashed before it is kept anywhere.
 */
function canonical(registry: SharedPoolRegistry, value: unknown, seen: Set<object>): string {
  if (value === undefined) return "u";
  if (value === null) return "n";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
    case "boolean":
    case "bigint":
    case "symbol":
      return `${typeof value}:${String(value)}`;
    case "function":
      return `f:${Function.prototype.toString.call(value)}`;
  }
  const object = value as object;
  if (ArrayBuffer.isView(object)) {
    return `b:${Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString("base64")}`;
  }
  if (seen.has(object)) return "cycle";
  const proto = Object.getPrototypeOf(object);
  if (Array.isArray(object)) {
    seen.add(object);
    const items = object.map((item) => canonical(registry, item, seen));
    seen.delete(object);
    return `[${items.join(",")}]`;
  }
  if (proto === Object.prototype || proto === null) {
    seen.add(object);
    // own names, enumerable or not: pg hides `password` as a non-enumerable property
    const parts = Object.getOwnPropertyNames(object)
      .sort()
      .map(
        (k) =>
          `${JSON.stringify(k)}:${canonical(registry, (object as Record<string, unknown>)[k], seen)}`,
      );
    seen.delete(object);
    return `{${parts.join(",")}}`;
  }
  let id = registry.ids.get(object);
  if (id === undefined) {
    id = registry.nextId++;
    registry.ids.set(object, id);
  }
  return `o:${id}`;
}
