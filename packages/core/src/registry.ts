import type { PoolLike } from "./channels.js";

/**
 * Open pools in this process, shared through a global symbol so that the ESM and CommonJS copies
 * of this package (and duplicate installs) see one list. Exporters read it to poll `stats()` of
 * pools created before they were installed.
 */
const kPools = Symbol.for("lifeguard.pools");
/** Pool names already warned about as duplicates, shared the same way (one warning per name). */
const kWarnedNames = Symbol.for("lifeguard.pools.duplicate-names-warned");

interface Holder {
  [kPools]?: Set<PoolLike>;
  [kWarnedNames]?: Set<string>;
}

function registry(): Set<PoolLike> {
  const holder = globalThis as Holder;
  holder[kPools] ??= new Set();
  return holder[kPools];
}

/** @internal */
export function trackPool(pool: PoolLike): void {
  const pools = registry();
  warnIfNameTaken(pools, pool);
  pools.add(pool);
}

/** @internal */
export function untrackPool(pool: PoolLike): void {
  registry().delete(pool);
}

/** The pools that are open in this process, in creation order. */
export function listPools(): PoolLike[] {
  return [...registry()];
}

/**
 * Names tell pools apart in metrics, events and errors. Two open pools with one name would share
 * every series; exporters keep them apart (the later one gets a suffix) but the dashboards then
 * mislead, so say so once per name, the way Node reports other set-up mistakes.
 */
function warnIfNameTaken(pools: Set<PoolLike>, pool: PoolLike): void {
  const name = pool.name;
  let taken = false;
  for (const other of pools) {
    if (other !== pool && other.name === name) {
      taken = true;
      break;
    }
  }
  if (!taken) return;
  const holder = globalThis as Holder;
  holder[kWarnedNames] ??= new Set();
  if (holder[kWarnedNames].has(name)) return;
  holder[kWarnedNames].add(name);
  process.emitWarning(
    `Another open pool is already named ${JSON.stringify(name)}. Pool names tell pools apart in metrics, events and errors: give each pool its own \`name\`. Until then, metrics exporters report this pool's series as ${JSON.stringify(`${name}#2`)} (then #3, ...).`,
    { type: "LifeguardWarning", code: "LIFEGUARD_DUPLICATE_POOL_NAME" },
  );
}
