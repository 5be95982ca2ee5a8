import type { PoolLike } from "@lifeguard/core";
import { ConnectionBudgetError, InvalidOptionError } from "@lifeguard/core";
import { channels } from "@lifeguard/core/internal";
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

/** @internal */
export function parseBudget(value: unknown): ConnectionBudget | undefined {
  if (value === undefined) return undefined;
  const record = value as Record<string, unknown> | null;
  const bad = (message: string) =>
    new InvalidOptionError("budget", `Invalid option "budget": ${message}.`);
  if (record === null || typeof record !== "object")
    throw bad("expected { instances, reserved?, enforce? }");
  for (const key of Object.keys(record)) {
    if (!["instances", "reserved", "enforce"].includes(key))
      throw bad(`unknown key "${key}" (allowed: instances, reserved, enforce)`);
  }
  const { instances, reserved = 0, enforce = false } = record;
  if (
    typeof instances !== "number" ||
    !Number.isInteger(instances) ||
    instances < 1 ||
    instances > 100_000
  ) {
    throw bad(`"instances" must be an integer from 1 to 100000; got ${String(instances)}`);
  }
  if (
    typeof reserved !== "number" ||
    !Number.isInteger(reserved) ||
    reserved < 0 ||
    reserved > 1_000_000
  ) {
    throw bad(`"reserved" must be an integer from 0 to 1000000; got ${String(reserved)}`);
  }
  if (typeof enforce !== "boolean") throw bad(`"enforce" must be true or false`);
  return { instances, reserved, enforce };
}

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
  pool: PoolLike | undefined;

  constructor(budget: ConnectionBudget, poolMax: number) {
    this.#budget = budget;
    this.#poolMax = poolMax;
  }

  /** Throws at once once the budget is known to be exceeded under `enforce`. */
  throwIfRefused(): void {
    if (this.#error !== undefined) throw this.#error;
  }

  async check(client: pg.Client, query: RawQuery): Promise<void> {
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
      `Connection budget exceeded for pool "${this.pool?.name ?? "?"}": ${this.#budget.instances} instances × max ${this.#poolMax} = ${needed} connections, ` +
      `but the server allows ${available} (max_connections ${row.max_connections} − ${row.superuser_reserved} superuser-reserved − ${row.reserved} reserved − ${reserved} budget.reserved). ` +
      `Lower max to ${perInstance} per instance, run fewer instances, put PgBouncer in front, or raise max_connections.`;
    if (this.#budget.enforce === true) {
      this.#error = new ConnectionBudgetError(message, needed, available);
      throw this.#error;
    }
    if (this.pool !== undefined && channels.warning.hasSubscribers) {
      channels.warning.publish({ pool: this.pool, code: "LIFEGUARD_CONNECTION_BUDGET", message });
    } else {
      process.emitWarning(message, {
        type: "LifeguardWarning",
        code: "LIFEGUARD_CONNECTION_BUDGET",
      });
    }
  }
}
