import { InvalidOptionError } from "@lifeguard/core";
import { unknownOption } from "@lifeguard/core/internal";
import type { LifeguardPgOptions, PoolConfig, PoolTestingOptions } from "@lifeguard/pg";
import { isLifeguardPool, Pool } from "@lifeguard/pg";
import { lifeguardPgOptionKeys } from "@lifeguard/pg/internal";
import type { DrizzleConfig, TablesRelationalConfig } from "drizzle-orm";
import type { NodePgDatabase } from "drizzle-orm/node-postgres";
import { drizzle as nodePgDrizzle } from "drizzle-orm/node-postgres";

// The types follow whichever drizzle-orm the application installed: 0.x types the database by
// `schema` (a record of tables), 1.0 by `relations` (built with defineRelations()).
type IsDrizzle1 = "relations" extends keyof DrizzleConfig ? true : false;
/** What Drizzle's config takes as its type parameter: 0.x's schema, or 1.0's relations. */
type AnySchema = IsDrizzle1 extends true ? TablesRelationalConfig : Record<string, unknown>;
/** Drizzle's own default for it (`Record<string, never>`, or 1.0's `EmptyRelations`). */
type DefaultSchema = DrizzleConfig extends DrizzleConfig<infer T> ? T : never;
/** Options drizzle-orm/node-postgres takes beyond DrizzleConfig (1.0: `codecs`). */
type NodePgOnlyOptions = Omit<
  Extract<Parameters<typeof nodePgDrizzle>[0], { connection: unknown }>,
  "connection" | "client" | keyof DrizzleConfig
>;

/** Lifeguard's pool options, as `new Pool()` from `@lifeguard/pg` takes them beside pg's. */
export type LifeguardPoolOptions = LifeguardPgOptions & PoolTestingOptions;

/** Drizzle's config plus the Lifeguard pool's options. */
export type LifeguardDrizzleConfig<TSchema extends AnySchema = DefaultSchema> =
  NodePgConfig<TSchema> & LifeguardPoolOption;

/** Drizzle's config as drizzle-orm/node-postgres takes it (without `client`/`connection`). */
export type NodePgConfig<TSchema extends AnySchema = DefaultSchema> = DrizzleConfig<TSchema> &
  NodePgOnlyOptions;

interface LifeguardPoolOption {
  /** `min`, `max`, `prePing`, `reset`, `acquireTimeoutMillis` ...: see `@lifeguard/pg`. */
  pool?: LifeguardPoolOptions;
}

/** A Drizzle database whose `$client` is the Lifeguard `Pool`. */
export type LifeguardDatabase<TSchema extends AnySchema = DefaultSchema> =
  NodePgDatabase<TSchema> & { $client: Pool };

/**
 * `drizzle()` from `drizzle-orm/node-postgres`, with a Lifeguard `Pool` instead of `pg.Pool`: the same
 * call forms, plus `pool` for Lifeguard's options. `db.$client` is the pool; `db.$client.end()`
 * closes it.
 *
 * ```ts
 * import { drizzle } from "@lifeguard/drizzle";
 * const db = drizzle({ connection: process.env.DATABASE_URL, pool: { max: 20 } });
 * ```
 */
export function drizzle<TSchema extends AnySchema = DefaultSchema>(
  connectionString: string,
  config?: LifeguardDrizzleConfig<TSchema>,
): LifeguardDatabase<TSchema>;
export function drizzle<TSchema extends AnySchema = DefaultSchema>(
  client: Pool,
  config?: NodePgConfig<TSchema>,
): LifeguardDatabase<TSchema>;
export function drizzle<TSchema extends AnySchema = DefaultSchema>(
  config: LifeguardDrizzleConfig<TSchema> & { connection: string | PoolConfig },
): LifeguardDatabase<TSchema>;
export function drizzle<TSchema extends AnySchema = DefaultSchema>(
  config: NodePgConfig<TSchema> & { client: Pool },
): LifeguardDatabase<TSchema>;
export function drizzle(
  first: unknown,
  second?: LifeguardDrizzleConfig<AnySchema>,
): LifeguardDatabase<AnySchema> {
  if (typeof first === "string") {
    const { pool, ...config } = second ?? {};
    return construct(createPool({ connectionString: first }, pool), config);
  }
  if (isLifeguardPool(first)) {
    const { pool, ...config } = second ?? {};
    if (pool !== undefined) rejectPoolWithClient();
    return construct(first, config);
  }
  // anything else with connect() is a pg.Pool or pg.Client: drizzle-orm/node-postgres's business
  if (first === null || typeof first !== "object" || "connect" in first) return rejectClient(first);
  const { connection, client, pool, ...config } = first as LifeguardDrizzleConfig<AnySchema> & {
    connection?: unknown;
    client?: unknown;
  };
  if (client !== undefined) {
    if (connection !== undefined) {
      throw new InvalidOptionError(
        "client",
        `drizzle(): pass either "client" (an existing Pool) or "connection", not both.`,
      );
    }
    if (pool !== undefined) rejectPoolWithClient();
    if (!isLifeguardPool(client)) return rejectClient(client);
    return construct(client, config);
  }
  if (typeof connection === "string")
    return construct(createPool({ connectionString: connection }, pool), config);
  if (connection !== null && typeof connection === "object") {
    return construct(createPool(connection as PoolConfig, pool), config);
  }
  throw new InvalidOptionError(
    "connection",
    `drizzle(): expected a connection string, { connection }, { client } or a Lifeguard Pool; "connection" is ${connection === undefined ? "missing" : `a ${typeof connection}`}.`,
  );
}

/** The object form, the one call form drizzle-orm/node-postgres has in every version since 0.36. */
const nodePgDrizzleWith = nodePgDrizzle as unknown as (
  config: object & { client: Pool },
) => LifeguardDatabase<AnySchema>;

function construct(pool: Pool, config: object): LifeguardDatabase<AnySchema> {
  return nodePgDrizzleWith({ ...config, client: pool });
}

/** The pool from the connection settings and the `pool` options (each key given once). */
function createPool(connection: PoolConfig, pool: LifeguardPoolOptions | undefined): Pool {
  if (pool === undefined) return new Pool(connection);
  if (pool === null || typeof pool !== "object" || Array.isArray(pool)) {
    throw new InvalidOptionError(
      "pool",
      `Invalid option "pool": expected an object of Lifeguard options ({ max, min, prePing, ... }).`,
    );
  }
  for (const key of Object.keys(pool)) {
    if (!poolKeys.has(key))
      throw unknownOption(
        `pool.${key}`,
        [...poolKeys].map((k) => `pool.${k}`),
      );
    if (key in connection) {
      throw new InvalidOptionError(
        key,
        `Option "${key}" is given both in "connection" and in "pool"; pass it once (Lifeguard's options belong in "pool").`,
      );
    }
  }
  // a spread drops a password hidden as non-enumerable (as pg and Knex hide it): copy it over
  const merged: PoolConfig = { ...connection, ...pool };
  if (connection.password !== undefined) merged.password = connection.password;
  return new Pool(merged);
}

const poolKeys = new Set<string>([...lifeguardPgOptionKeys, "clock", "random"]);

function rejectPoolWithClient(): never {
  throw new InvalidOptionError(
    "pool",
    `drizzle(): "pool" options configure a pool drizzle() creates; this call passes an existing Pool. Set the options where that Pool is created.`,
  );
}

function rejectClient(client: unknown): never {
  const what =
    typeof client === "object" && client !== null
      ? `a ${(client as object).constructor?.name ?? "object"}`
      : String(client);
  throw new InvalidOptionError(
    "client",
    `drizzle() from @lifeguard/drizzle takes a Lifeguard Pool (import { Pool } from "@lifeguard/pg"), a connection string or { connection }; got ${what}. For a plain pg.Pool or pg.Client use drizzle-orm/node-postgres.`,
  );
}
