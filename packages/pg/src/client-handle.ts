import type { Lease } from "@lifeguard/core";
import { LeaseReleasedError } from "@lifeguard/core";
import type pg from "pg";

/** A client as the pool hands it out: a real pg Client with `release()` and `await using`. */
export type LifeguardPoolClient = pg.PoolClient & AsyncDisposable;

/** What a handle reports back when its borrower releases it. @internal */
export type ReleaseHandler = (
  lease: Lease<pg.Client>,
  error: unknown,
  handle: LifeguardPoolClient,
) => void;

interface HandleTraps extends ProxyHandler<pg.Client> {
  lease: Lease<pg.Client>;
  poolName: string;
  onRelease: ReleaseHandler;
  release?: (error?: unknown) => void;
  dispose?: () => Promise<void>;
}

const kBound = Symbol("lifeguard.boundMethods");
type WithBound = pg.Client & { [kBound]?: Map<PropertyKey, { fn: unknown; bound: unknown }> };

/**
 * Each lease hands out its own view of the client (a Proxy over the real pg Client, so
 * `instanceof pg.Client` holds and every method works unchanged) carrying that lease's
 * `release`. A stale handle, kept from an earlier lease, can therefore never release, or query on,
 * the lease of whoever holds the client now: both throw `LeaseReleasedError`.
 */
const traps: Omit<HandleTraps, "lease" | "poolName" | "onRelease"> = {
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
    if (prop === "query" && this.lease.released) {
      const poolName = this.poolName;
      return () => {
        throw new LeaseReleasedError(poolName);
      };
    }
    const value = Reflect.get(target, prop, target);
    return typeof value === "function" ? boundMethod(target as WithBound, prop, value) : value;
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
  return new Proxy(lease.connection, handler) as unknown as LifeguardPoolClient;
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
