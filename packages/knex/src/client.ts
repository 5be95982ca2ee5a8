import { AcquireTimeoutError, InvalidOptionError } from "@lifeguard/core";
import type { LifeguardPoolClient, PoolConfig } from "@lifeguard/pg";
import { isLifeguardPool, Pool } from "@lifeguard/pg";
import knex, { type Knex } from "knex";
// @ts-expect-error: Knex ships no types for its dialect modules; typed as Knex.Client below
import KnexPgDialect from "knex/lib/dialects/postgres/index.js";
import type pg from "pg";
import type { KnexHooks, LifeguardKnexPoolConfig } from "./pool-options.js";
import { lifeguardPoolConfig } from "./pool-options.js";

declare module "knex" {
  namespace Knex {
    /** With `client: LifeguardClient`, `pool` also takes Lifeguard's options (see @lifeguard/knex). */
    interface PoolConfig extends Omit<LifeguardKnexPoolConfig, keyof KnexOwnPoolKeys> {}
  }
}

/** Keys Knex's own PoolConfig already declares (with its own types). */
interface KnexOwnPoolKeys {
  name: unknown;
  min: unknown;
  max: unknown;
  idleTimeoutMillis: unknown;
  acquireTimeoutMillis: unknown;
  afterCreate: unknown;
  validate: unknown;
  maxConnectionLifetimeMillis: unknown;
}

/** Where the pool lives: on Knex's config object, which the transaction clients share. */
const kPool = Symbol.for("lifeguard.knex.pool");

interface PoolSlot {
  readonly pool: Pool;
  /** Created from this config (closed by knex.destroy()), or passed in as `connectionPool`. */
  readonly owned: boolean;
  /** Knex 3.3's `pool.validate`, run on each connection before Knex gets it. */
  readonly validate?: KnexHooks["validate"];
}

type ConfigWithPool = Knex.Config & { [kPool]?: PoolSlot };

/** A connection as Knex holds it: the lease's client plus the marks Knex puts on connections. */
type KnexConnection = LifeguardPoolClient & { __knexUid?: string; __knex__disposed?: unknown };

/** Knex's PostgreSQL client methods that its type declarations leave out. */
interface PgDialectMethods {
  checkVersion(connection: pg.Client): Promise<string>;
  setSchemaSearchPath(connection: pg.Client): Promise<unknown>;
}

const KnexPgClient = KnexPgDialect as typeof Knex.Client;
let connectionIds = 0;

/**
 * Leases Knex has given back. Knex releases a stream's connection twice (once when the query ends,
 * once when the stream closes) and tarn ignores the second; so does this client. Each lease has its
 * own handle, so a handle seen here can never belong to a later borrower.
 */
const released = new WeakSet<KnexConnection>();

/**
 * Knex's PostgreSQL client with its connections from a Lifeguard pool: checked before lending,
 * cleaned on release, bounded waits and metrics. Everything else (query building, transactions,
 * streaming, `timeout(ms, { cancel: true })`) is Knex's own.
 *
 * ```ts
 * import knex from "knex";
 * import { LifeguardClient } from "@lifeguard/knex";
 * const db = knex({ client: LifeguardClient, connection: process.env.DATABASE_URL, pool: { max: 10 } });
 * ```
 */
export class LifeguardClient extends KnexPgClient {
  constructor(config: Knex.Config) {
    super(config);
    // Knex skips initializePool() for `pool.max: 0` (as for a config without a connection), which
    // would surface as a failed acquire later: let Lifeguard's validation refuse it now instead.
    const pool = config.pool as { max?: unknown } | undefined;
    const configured = config.connection !== undefined || config.connectionPool !== undefined;
    if (slotOf(this.config) === undefined && configured && pool?.max === 0) {
      this.initializePool(this.config);
    }
  }

  // Knex calls this from its constructor, before this class's fields exist, and its transactions
  // run on objects made from the prototype: the pool is kept on `this.config`, which they share.
  override initializePool(config: Knex.Config = this.config): void {
    const holder = this.config as ConfigWithPool;
    const current = holder[kPool];
    if (current !== undefined && !current.pool.ending) {
      this.logger.warn?.("The pool has already been initialized");
      return;
    }
    if (config.connectionPool !== undefined) {
      if (!isLifeguardPool(config.connectionPool)) {
        throw new InvalidOptionError(
          "connectionPool",
          `LifeguardClient takes a Lifeguard Pool as "connectionPool" (import { Pool } from "@lifeguard/pg"), or "connection" to create its own.`,
        );
      }
      if (this.driver === undefined) this.initializeDriver();
      // Knex opens a connection of its own to cancel a timed-out query: give it the pool's settings
      this.connectionSettings = clientSettings(config.connectionPool);
      setSlot(holder, { pool: config.connectionPool, owned: false });
      return;
    }
    if (typeof config.connection === "function") {
      throw new InvalidOptionError(
        "connection",
        `LifeguardClient needs static connection settings (a string or an object), not a function. For rotating credentials give pg a password function: connection: { ..., password: async () => token }.`,
      );
    }
    if (this.driver === undefined) this.initializeDriver();
    const { pool: options, hooks } = lifeguardPoolConfig(config, this.connectionSettings);
    const dialect = this as unknown as PgDialectMethods;
    const { afterCreate, validate } = hooks;
    const pool = createPool(config, {
      ...options,
      Client: (this.driver as typeof pg).Client,
      // session set-up: Lifeguard replays these statements after every session reset
      onConnect: async (connection: pg.ClientBase) => {
        // tarn's order: Knex names the connection before afterCreate sees it
        (connection as KnexConnection).__knexUid ??= nextKnexUid();
        await dialect.setSchemaSearchPath(connection as pg.Client);
        if (afterCreate !== undefined) {
          await new Promise<void>((resolve, reject) =>
            afterCreate(connection as pg.Client, (error) => (error ? reject(error) : resolve())),
          );
        }
      },
    });
    if (hooks.mapped.length > 0) {
      this.logger.warn?.(
        `LifeguardClient maps tarn.js pool settings onto Lifeguard's: ${hooks.mapped.join(" ")}`,
      );
    }
    setSlot(holder, { pool, owned: true, ...(validate === undefined ? {} : { validate }) });
  }

  override async acquireConnection(): Promise<KnexConnection> {
    const slot = slotOf(this.config);
    if (slot === undefined) {
      throw new Error(
        'Unable to acquire a connection: this LifeguardClient has no pool (it was created without "connection" or "connectionPool").',
      );
    }
    const connection = await connectValid(slot, this.logger);
    if (this.version === undefined) {
      // best effort, as Knex does for external pools: it only tells json from jsonb before 9.2
      const version = await (this as unknown as PgDialectMethods)
        .checkVersion(connection)
        .catch(() => undefined);
      if (version !== undefined) this.version = version;
    }
    return connection;
  }

  override releaseConnection(connection: KnexConnection): Promise<void> {
    if (released.has(connection)) return Promise.resolve();
    released.add(connection);
    // Knex marks a connection whose query timed out without cancel: it may still be running there
    connection.release(connection.__knex__disposed === undefined ? undefined : true);
    return Promise.resolve();
  }

  override async destroy(callback?: (error?: unknown) => void): Promise<void> {
    const slot = slotOf(this.config);
    try {
      if (slot?.owned === true) await slot.pool.end();
    } catch (error) {
      if (callback === undefined) throw error;
      callback(error);
      return;
    }
    callback?.();
  }
}

/**
 * The Lifeguard pool behind a Knex instance (or a transaction, or its client): for `stats()`,
 * `warmup()`, `evict()` and metrics.
 */
export function lifeguardPool(db: Knex | Knex.Transaction | Knex.Client): Pool {
  const client = (db as { client?: unknown }).client ?? db;
  const slot = slotOf((client as { config?: Knex.Config }).config);
  if (slot === undefined) {
    throw new Error(
      "lifeguardPool(): this Knex instance does not use LifeguardClient; create it with knex({ client: LifeguardClient, connection, pool }).",
    );
  }
  return slot.pool;
}

/** A connection from the pool that passes `pool.validate`; refused ones are closed, as tarn does. */
// a function, not a method: Knex's transaction and withUserParams() clients are built from the
// prototype, so private members would not exist on them
async function connectValid(
  slot: PoolSlot,
  logger: Knex.Client["logger"],
): Promise<KnexConnection> {
  // tarn retries until the acquire deadline; a bound on attempts keeps a validate that refuses
  // everything from emptying and refilling the pool forever
  const attempts = slot.validate === undefined ? 1 : slot.pool.stats().max + 1;
  for (let attempt = 1; ; attempt++) {
    let connection: KnexConnection;
    try {
      connection = (await slot.pool.connect()) as KnexConnection;
    } catch (error) {
      throw asKnexError(error);
    }
    connection.__knexUid ??= nextKnexUid();
    if (slot.validate === undefined) return connection;
    let valid = false;
    try {
      valid = (await slot.validate(connection)) === true;
    } catch (error) {
      logger.warn?.(`Pool validate threw an error: ${(error as Error).message}`);
    }
    if (valid) return connection;
    released.add(connection);
    connection.release(true);
    if (attempt >= attempts) {
      throw new knex.KnexTimeoutError(
        `Knex: Timeout acquiring a connection. pool.validate refused ${attempts} connections in a row (pool "${slot.pool.stats().name}").`,
      );
    }
  }
}

function slotOf(config: Knex.Config | undefined): PoolSlot | undefined {
  return (config as ConfigWithPool | undefined)?.[kPool];
}

function setSlot(config: ConfigWithPool, slot: PoolSlot): void {
  // enumerable, so the copies Knex makes with Object.assign (withUserParams(), migrations, seeds)
  // reach the same pool; a symbol key stays out of JSON, Object.keys() and for...in
  Object.defineProperty(config, kPool, {
    value: slot,
    configurable: true,
    enumerable: true,
    writable: true,
  });
}

function nextKnexUid(): string {
  return `__knexUid${++connectionIds}`;
}

/**
 * Lifeguard's Pool, its option errors named as the Knex user wrote them (`pool.max`, not `max`).
 */
function createPool(config: Knex.Config, options: PoolConfig): Pool {
  try {
    return new Pool(options);
  } catch (error) {
    if (!(error instanceof InvalidOptionError)) throw error;
    const root = error.option.split(".")[0] as string;
    if (!(root in (config.pool ?? {}))) throw error;
    throw new InvalidOptionError(
      `pool.${error.option}`,
      error.message.replace(`"${error.option}"`, `"pool.${error.option}"`),
    );
  }
}

/** A shared Pool's connection settings, secrets kept non-enumerable as pg and Knex keep them. */
function clientSettings(pool: Pool): object {
  const options = pool.options as unknown as Record<string, unknown>;
  const settings: Record<string, unknown> = { ...options };
  for (const key of ["password", "connectionString"]) {
    if (options[key] !== undefined) {
      Object.defineProperty(settings, key, { value: options[key], enumerable: false });
    }
  }
  return settings;
}

/** Knex's runner adds the SQL to a KnexTimeoutError: keep that type, with Lifeguard's explanation. */
function asKnexError(error: unknown): unknown {
  if (!(error instanceof AcquireTimeoutError)) return error;
  const converted = new knex.KnexTimeoutError(
    `Knex: Timeout acquiring a connection. ${error.message} Are you missing a .transacting(trx) call?`,
  );
  Object.assign(converted, { code: error.code, cause: error });
  return converted;
}
