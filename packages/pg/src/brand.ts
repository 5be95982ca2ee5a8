import type { Pool } from "./pool.js";

/**
 * The mark every Lifeguard Pool carries on its prototype. A `Symbol.for` key, like the errors' code
 * brand: an ESM and a CommonJS copy of @lifeguard/pg (or two installed versions) define different
 * classes, so `instanceof Pool` fails across them while the registered symbol is the same.
 */
const kLifeguardPool = Symbol.for("lifeguard.pg.pool");

/** Marks a class's instances as Lifeguard pools. @internal */
export function brandLifeguardPool(prototype: object): void {
  Object.defineProperty(prototype, kLifeguardPool, { value: true });
}

/**
 * Is `value` a Pool from @lifeguard/pg, from any copy of the package? A plain `pg.Pool`, or a
 * look-alike with the same methods, is not.
 */
export function isLifeguardPool(value: unknown): value is Pool {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { [kLifeguardPool]?: unknown })[kLifeguardPool] === true
  );
}
