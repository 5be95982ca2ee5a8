import { ConnectionBudgetError } from "@lifeguard/core";
import type pg from "pg";

/**
 * How many instances of this service run with this pool configuration, so the pool can check that
 * all of them together fit in what the server allows.
 */
export interface ConnectionBudget {
  /** Instances (processes, pods, lambdas) that each open this pool. */
  instances: number;
  /** Connections to leave free for everything else (migrations, admin, other services). Default 0. */
  reserved?: number;
  /** Throw `ConnectionBudgetError` (acquires fail) instead of warning. Default false. */
  enforce?: boolean;
}

type RawQuery = (client: pg.Client, text: string) => Promise<{ rows: Record<string, unknown>[] }>;

/**
 * Checks the fleet's connection budget against the server once, on the pool's first connection:
 * `instances × max` must fit in `max_connections` minus the server's reserved slots
 * (`superuser_reserved_connections`, and `reserved_connections` on PostgreSQL 16+) minus
 * `budget.reserved`. Over budget it warns, or with `enforce` fails every connect with
 * `ConnectionBudgetError`.
 * @internal
 */
export class BudgetCheck {
  readonly #budget: ConnectionBudget;
  readonly #poolMax: number;
  #done = false;
  #error: ConnectionBudgetError | undefined;
  readonly #warn: (code: string, message: (poolName: string) => string) => void;

  /** `warn` reports an exceeded budget without `enforce` (the pool publishes it, or emits a warning). */
  constructor(
    budget: ConnectionBudget,
    poolMax: number,
    warn: (code: string, message: (poolName: string) => string) => void,
  ) {
    this.#budget = budget;
    this.#poolMax = poolMax;
    this.#warn = warn;
  }

  /** Throws at once once the budget is known to be exceeded under `enforce`. */
  throwIfRefused(): void {
    if (this.#error !== undefined) throw this.#error;
  }

  async check(client: pg.Client, query: RawQuery, poolName: string): Promise<void> {
    if (this.#done) return this.throwIfRefused();
    const { rows } = await query(
      client,
      "select current_setting('max_connections')::int as max_connections, current_setting('superuser_reserved_connections')::int as superuser_reserved, coalesce(current_setting('reserved_connections', true), '0')::int as reserved",
    );
    this.#done = true;
    const row = rows[0] as {
      max_connections: number;
      superuser_reserved: number;
      reserved: number;
    };
    const reserved = this.#budget.reserved ?? 0;
    const available = row.max_connections - row.superuser_reserved - row.reserved - reserved;
    const needed = this.#budget.instances * this.#poolMax;
    if (needed <= available) return;
    const perInstance = Math.max(0, Math.floor(available / this.#budget.instances));
    const message =
      `Connection budget exceeded for pool "${poolName}": ${this.#budget.instances} instances × max ${this.#poolMax} = ${needed} connections, ` +
      `but the server allows ${available} (max_connections ${row.max_connections} − ${row.superuser_reserved} superuser-reserved − ${row.reserved} reserved − ${reserved} budget.reserved). ` +
      `Lower max to ${perInstance} per instance, run fewer instances, put PgBouncer in front, or raise max_connections.`;
    if (this.#budget.enforce === true) {
      this.#error = new ConnectionBudgetError(message, needed, available);
      throw this.#error;
    }
    this.#warn("LIFEGUARD_CONNECTION_BUDGET", () => message);
  }
}
