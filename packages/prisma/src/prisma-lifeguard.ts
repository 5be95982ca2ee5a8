import { InvalidOptionError } from "@lifeguard/core";
import type { PoolConfig } from "@lifeguard/pg";
import { isLifeguardPool, Pool } from "@lifeguard/pg";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";

/**
 * `@prisma/adapter-pg`'s options, passed through unchanged: `schema`, `statementNameGenerator`,
 * `onPoolError`, `onConnectionError`, `userDefinedTypeParser`, `disposeExternalPool`.
 */
export type PrismaPgOptions = NonNullable<ConstructorParameters<typeof PrismaPg>[1]>;

/** The driver adapter Prisma Client gets from `connect()`: adapter-pg's, on the Lifeguard pool. */
export type PrismaLifeguardDriverAdapter = Awaited<ReturnType<PrismaPg["connect"]>>;

/**
 * A Prisma 7 driver adapter factory for PostgreSQL on a Lifeguard pool: `@prisma/adapter-pg` does
 * the SQL, a `@lifeguard/pg` Pool (a real `pg.Pool` subclass) does the pooling, with connections
 * checked before lending, sessions cleaned on release, bounded waits and metrics.
 *
 * ```ts
 * import { PrismaLifeguard } from "@lifeguard/prisma";
 * import { PrismaClient } from "./generated/prisma/client";
 *
 * const adapter = new PrismaLifeguard({ connectionString: process.env.DATABASE_URL, max: 10 });
 * const prisma = new PrismaClient({ adapter });
 * adapter.pool.stats(); // connections, waiters, pre-pings, resets ...
 * ```
 */
export class PrismaLifeguard {
  /** Checked by Prisma Client against the schema's provider. */
  readonly provider = "postgres";
  readonly adapterName = "@lifeguard/prisma";
  readonly #adapterOptions: PrismaPgOptions;
  /** Set when this adapter makes its own pools (options or a URL were given); unset for a given pool. */
  readonly #config: PoolConfig | undefined;
  #pool: Pool;
  /** An own pool is used by one connect() and ended by that connection's dispose(). */
  #claimed = false;

  /**
   * @param optionsOrPool `@lifeguard/pg` Pool options (pg.Pool's plus Lifeguard's), a connection
   *   string, or a Pool from `@lifeguard/pg`. With options, the adapter makes the pool and
   *   `$disconnect()` closes it (a later query opens a new one, as with `PrismaPg`). A pool you pass
   *   stays yours: `$disconnect()` leaves it open unless `disposeExternalPool` is set.
   * @param adapterOptions `@prisma/adapter-pg`'s options, unchanged.
   */
  constructor(
    optionsOrPool: Pool | PoolConfig | string = {},
    adapterOptions: PrismaPgOptions = {},
  ) {
    this.#adapterOptions = adapterOptions;
    if (isPoolLike(optionsOrPool)) {
      assertLifeguardPool(optionsOrPool);
      this.#pool = optionsOrPool;
      this.#config = undefined;
    } else {
      this.#config =
        typeof optionsOrPool === "string" ? { connectionString: optionsOrPool } : optionsOrPool;
      this.#pool = new Pool(this.#config);
    }
  }

  /**
   * The Lifeguard pool Prisma's queries run on: `stats()`, `warmup()`, `evict()`, events. When the
   * adapter made the pool, a query after `$disconnect()` opens a new pool, and this returns it.
   */
  get pool(): Pool {
    return this.#pool;
  }

  /** Called by Prisma Client on `$connect()` or its first query. */
  async connect(): Promise<PrismaLifeguardDriverAdapter> {
    const owned = this.#config !== undefined;
    if (owned && this.#claimed) this.#pool = new Pool(this.#config);
    this.#claimed = true;
    const pool = this.#pool;
    const options = owned
      ? { ...this.#adapterOptions, disposeExternalPool: true }
      : this.#adapterOptions;
    const adapter = await new PrismaPg(pool, options).connect();
    // adapter-pg takes a pool only if it is `instanceof` *its* pg.Pool; anything else it treats as
    // a config object and quietly opens a plain pg.Pool of its own
    if (adapter.underlyingDriver() !== pool) {
      await adapter.dispose();
      if (owned) await pool.end();
      throw new InvalidOptionError("pool", secondPgMessage("@prisma/adapter-pg"));
    }
    return adapter;
  }
}

function isPoolLike(value: unknown): value is pg.Pool {
  if (value instanceof pg.Pool) return true;
  const candidate = value as Partial<Record<"connect" | "query" | "end", unknown>> | null;
  return (
    typeof candidate === "object" &&
    candidate !== null &&
    typeof candidate.connect === "function" &&
    typeof candidate.query === "function" &&
    typeof candidate.end === "function"
  );
}

/** adapter-pg needs a real pg.Pool; Lifeguard's features need a Lifeguard one. */
function assertLifeguardPool(pool: pg.Pool): asserts pool is Pool {
  if (!(pool instanceof pg.Pool)) {
    throw new InvalidOptionError("pool", secondPgMessage("@lifeguard/prisma"));
  }
  if (!isLifeguardPool(pool)) {
    throw new InvalidOptionError(
      "pool",
      "new PrismaLifeguard(pool): this is a plain pg.Pool, which has none of Lifeguard's checks. " +
        'Pass the pool\'s options instead (`new PrismaLifeguard({ connectionString, max })`), or a Pool from @lifeguard/pg (`import { Pool } from "@lifeguard/pg"`); ' +
        "to keep pg.Pool, use PrismaPg from @prisma/adapter-pg.",
    );
  }
}

function secondPgMessage(who: string): string {
  return (
    `new PrismaLifeguard(pool): the pool is not an instance of the pg.Pool class that ${who} loads. ` +
    "Either it is a look-alike (not built on pg.Pool), or the application has two copies of the `pg` package: " +
    "@prisma/adapter-pg depends on a pg range of its own (^8.16.3 in 7.10) and gets a separate copy when the version your application installs does not satisfy it. " +
    "@prisma/adapter-pg would then treat the pool as a config object and silently open a plain pg.Pool instead. " +
    "Fix: make every package resolve one pg (`npm ls pg` or `pnpm why pg` shows the copies): install a pg that satisfies ^8.16.3 in the application " +
    '(`npm install pg@^8.16.3`, then `npm dedupe`; with pnpm add `overrides: { pg: "^8.16.3" }`), and build the pool with `new Pool(...)` from @lifeguard/pg, or pass its options to PrismaLifeguard.'
  );
}
