import { ConnectionBudgetError } from "@lifeguard/core";
import type pg from "pg";
import { routedHostOf } from "./cluster/routed-client.js";

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
type Warn = (code: string, message: (poolName: string) => string) => void;

/** What this process may open to one server: the pool's `max`, or a cluster's writer + reader. */
export interface BudgetShare {
  /** Connections one instance may open to a server. */
  readonly max: number;
  /** How the message spells it: `max 10`, or `(writer max 6 + reader max 4)`. */
  readonly label: string;
}

/** One server's check: in flight, then its verdict (an error under `enforce`, else undefined). */
type Verdict = Promise<ConnectionBudgetError | undefined>;

/**
 * Checks the fleet's connection budget against a server once, on the first connection that reaches
 * it: `instances × max` must fit in `max_connections` minus the server's reserved slots
 * (`superuser_reserved_connections`, and `reserved_connections` on PostgreSQL 16+) minus
 * `budget.reserved`. Over budget it warns, or with `enforce` fails every connect to that server
 * with `ConnectionBudgetError`.
 *
 * With several hosts (`hostOf` given) each host is checked when first reached, and the message and
 * error name it; a `Cluster` hands one check to both of its pools, with `max` their sum, so each
 * host is checked once (docs/cluster.md, "Budget"). `share` is read at the check, once the pools
 * exist, so it sees their resolved `max`.
 * @internal
 */
export class BudgetCheck {
  readonly #budget: ConnectionBudget;
  readonly #share: () => BudgetShare;
  readonly #hostOf: ((client: pg.Client) => string | undefined) | undefined;
  /** By host (`address:port`; "" for a single-host pool). */
  readonly #verdicts = new Map<string, Verdict>();
  /** Settled refusals, for the synchronous check before a connect. */
  readonly #refused = new Map<string, ConnectionBudgetError>();
  /** Told of each host refused under `enforce`, so connects stop going there. */
  #onRefused: ((host: string, error: ConnectionBudgetError) => void) | undefined;

  constructor(
    budget: ConnectionBudget,
    share: () => BudgetShare,
    hostOf?: (client: pg.Client) => string | undefined,
  ) {
    this.#budget = budget;
    this.#share = share;
    this.#hostOf = hostOf;
  }

  /** With several hosts: `listener` hears of each host refused under `enforce` (the host registry). */
  onRefused(listener: (host: string, error: ConnectionBudgetError) => void): void {
    this.#onRefused = listener;
  }

  /**
   * Throws at once when the budget is known to be exceeded under `enforce`. Only a single-host
   * pool knows its server before connecting; with several hosts the check after the connect does.
   */
  throwIfRefused(): void {
    const error = this.#refused.get("");
    if (error !== undefined) throw error;
  }

  /** `warn` reports an exceeded budget without `enforce` (the pool publishes it, or emits a warning). */
  async check(client: pg.Client, query: RawQuery, poolName: string, warn: Warn): Promise<void> {
    const host = this.#hostOf === undefined ? "" : (this.#hostOf(client) ?? "");
    const shared = this.#verdicts.get(host);
    if (shared !== undefined) {
      // connects reaching the host meanwhile share the first one's check; when that connection
      // failed the query, each checks on its own connection
      const error = await shared.catch(() => {
        if (this.#verdicts.get(host) === shared) this.#verdicts.delete(host);
        return this.check(client, query, poolName, warn);
      });
      if (error !== undefined) throw error;
      return;
    }
    const verdict = this.#judge(client, query, poolName, host, warn);
    this.#verdicts.set(host, verdict);
    verdict.catch(() => {
      if (this.#verdicts.get(host) === verdict) this.#verdicts.delete(host);
    });
    const error = await verdict;
    if (error !== undefined) throw error;
  }

  async #judge(
    client: pg.Client,
    query: RawQuery,
    poolName: string,
    host: string,
    warn: Warn,
  ): Verdict {
    const { rows } = await query(
      client,
      "select current_setting('max_connections')::int as max_connections, current_setting('superuser_reserved_connections')::int as superuser_reserved, coalesce(current_setting('reserved_connections', true), '0')::int as reserved",
    );
    const row = rows[0] as {
      max_connections: number;
      superuser_reserved: number;
      reserved: number;
    };
    const reserved = this.#budget.reserved ?? 0;
    const available = row.max_connections - row.superuser_reserved - row.reserved - reserved;
    const { max, label } = this.#share();
    const needed = this.#budget.instances * max;
    if (needed <= available) return undefined;
    const perInstance = Math.max(0, Math.floor(available / this.#budget.instances));
    const where = host === "" ? "" : ` on host ${host}`;
    const server = host === "" ? "the server" : `host ${host}`;
    const message =
      `Connection budget exceeded for pool "${poolName}"${where}: ${this.#budget.instances} instances × ${label} = ${needed} connections, ` +
      `but ${server} allows ${available} (max_connections ${row.max_connections} − ${row.superuser_reserved} superuser-reserved − ${row.reserved} reserved − ${reserved} budget.reserved). ` +
      `Lower max to ${perInstance} per instance, run fewer instances, put PgBouncer in front, or raise max_connections.`;
    if (this.#budget.enforce === true) {
      const error = new ConnectionBudgetError(
        message,
        needed,
        available,
        host === "" ? undefined : host,
      );
      this.#refused.set(host, error);
      if (host !== "") this.#onRefused?.(host, error);
      return error;
    }
    warn("LIFEGUARD_CONNECTION_BUDGET", () => message);
    return undefined;
  }
}

/** A routed connection's host, as budget checks key it (`address:port`). @internal */
export function budgetHostOf(client: pg.Client): string | undefined {
  const at = routedHostOf(client);
  return at === undefined ? undefined : `${at.host}:${at.port}`;
}
