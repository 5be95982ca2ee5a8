import type { PoolLike } from "./channels.js";

/**
 * Open pools in this process, shared through a global symbol so that the ESM and CommonJS copies
 * of this package (and duplicate installs) see one list. Exporters read it to poll `stats()` of
 * pools created before they were installed.
 */
const kPools = Symbol.for("lifeguard.pools");

function registry(): Set<PoolLike> {
  const holder = globalThis as { [kPools]?: Set<PoolLike> };
  holder[kPools] ??= new Set();
  return holder[kPools];
}

/** @internal */
export function trackPool(pool: PoolLike): void {
  registry().add(pool);
}

/** @internal */
export function untrackPool(pool: PoolLike): void {
  registry().delete(pool);
}

/** The pools that are open in this process, in creation order. */
export function listPools(): PoolLike[] {
  return [...registry()];
}
