import { AsyncLocalStorage } from "node:async_hooks";
import type { CloseReport, PoolStats } from "@lifeguard/core";
import { InvalidOptionError } from "@lifeguard/core";
import { checkOption } from "@lifeguard/core/internal";
import pg from "pg";
import { BudgetCheck, budgetHostOf } from "../budget.js";
import type { PoolConfig } from "../options.js";
import { splitConfig } from "../options.js";
import type { PoolTestingOptions } from "../pool.js";
import { Pool } from "../pool.js";
import { defaultEvictOnSqlState } from "../sqlstate.js";
import { textOf } from "../tracked-client.js";
import type { Endpoints } from "./endpoints.js";
import { endpointsOf } from "./endpoints.js";
import type { HostRegistry } from "./host-registry.js";
import type { HostSnapshot } from "./host-state.js";
import type { ClusterRoute } from "./multi-host.js";
import { createRegistry, kClusterRoute } from "./multi-host.js";
import { isProvablyReadOnly } from "./read-only-statement.js";
import type { LoadBalanceHosts, TargetSessionAttrs } from "./target.js";

const writerTargets = ["read-write", "primary"] as const;
const readerTargets = ["prefer-standby", "standby", "read-only", "any"] as const;

/** The cluster's own options, beside every `Pool` option (which both of its pools get). */
const clusterOptionTable = {
  writerTarget: {
    kind: "enum",
    values: writerTargets,
    default: "read-write",
    description: "Where cluster.writer's connections go.",
  },
  readerTarget: {
    kind: "enum",
    values: readerTargets,
    default: "prefer-standby",
    description: "Where cluster.reader's connections go.",
  },
} as const;

/** Everything `new Cluster(config)` accepts. */
export interface ClusterConfig extends PoolConfig {
  /**
   * Where `cluster.writer` connects: `'read-write'` (default: a primary that is not
   * `default_transaction_read_only`) or `'primary'`.
   */
  writerTarget?: (typeof writerTargets)[number];
  /**
   * Where `cluster.reader` connects: `'prefer-standby'` (default: a standby, the primary when no
   * standby is up), `'standby'`, `'read-only'` or `'any'`.
   */
  readerTarget?: (typeof readerTargets)[number];
  /** Options for the reader's pool only (`max`, `min`, ...), over the shared ones. */
  reader?: Omit<PoolConfig, "connectionString" | "host" | "port">;
}

/** `cluster.stats()`: both pools and every host. */
export interface ClusterStats {
  readonly writer: PoolStats;
  readonly reader: PoolStats;
  readonly hosts: readonly HostSnapshot[];
}

/**
 * A PostgreSQL cluster (a primary and its streaming replicas) behind two pools: `writer` and
 * `reader`, each a Lifeguard `Pool` (a `pg.Pool` drop-in), so Drizzle's `withReplicas`, Prisma's
 * read-replicas extension and Knex's two instances take them unchanged. Each host's role is
 * learned when a connection opens and whenever the server reports a change (a standby promoted),
 * and rechecked every `hostRecheckMillis`; after a failover new work goes to the new primary, and
 * nothing is ever sent for writing to a host known to be read-only. See docs/cluster.md.
 *
 * ```ts
 * import { Cluster } from "@lifeguard/pg";
 * const cluster = new Cluster({ connectionString: "postgres://app@db1,db2,db3/app", max: 10 });
 * await cluster.writer.query("insert into t values ($1)", [1]);
 * const { rows } = await cluster.reader.query("select * from t"); // a standby
 * ```
 */
export class Cluster {
  /** Connections to the primary (`writerTarget`): everything that writes. */
  readonly writer: Pool;
  /**
   * Connections to standbys (`readerTarget`). `reader.query()` sends a statement it cannot prove
   * read-only (a write CTE, a function it does not know) to the writer instead; a client borrowed
   * with `reader.connect()` refuses such statements (WriteOnReaderError) before sending them.
   */
  readonly reader: Pool;
  readonly #registry: HostRegistry;
  readonly #sticky = new AsyncLocalStorage<{ wrote: boolean }>();
  #closing: Promise<CloseReport[]> | undefined;

  constructor(config: ClusterConfig & PoolTestingOptions) {
    if (config === null || typeof config !== "object") {
      throw new InvalidOptionError("config", "new Cluster(config): config must be an object.");
    }
    const { writerTarget, readerTarget, reader: readerOptions, ...shared } = config;
    const writerGoal = checkOption(
      "writerTarget",
      writerTarget,
      clusterOptionTable.writerTarget,
    ) as TargetSessionAttrs;
    const readerGoal = checkOption(
      "readerTarget",
      readerTarget,
      clusterOptionTable.readerTarget,
    ) as TargetSessionAttrs;
    if (shared.targetSessionAttrs !== undefined) {
      throw new InvalidOptionError(
        "targetSessionAttrs",
        `Option "targetSessionAttrs" is for a single Pool; a Cluster has two: use "writerTarget" (${writerTargets.join(" | ")}) and "readerTarget" (${readerTargets.join(" | ")}).`,
      );
    }
    const split = splitConfig(shared);
    const endpoints = endpointsOf(split.client as Record<string, unknown>, true) as Endpoints;
    if (endpoints.targetSessionAttrs !== "any") {
      throw new InvalidOptionError(
        "connectionString",
        `target_session_attrs=${endpoints.targetSessionAttrs} is for a single Pool; a Cluster has two: use the options "writerTarget" and "readerTarget".`,
      );
    }
    // reads spread over the standbys unless told otherwise
    const loadBalanceHosts: LoadBalanceHosts =
      split.loadBalanceHosts ??
      (endpoints.loadBalanceHosts === "disable" ? "random" : endpoints.loadBalanceHosts);
    this.#registry = createRegistry(
      split.Client ?? pg.Client,
      endpoints.config as pg.ClientConfig,
      endpoints.hosts,
      split,
      loadBalanceHosts,
    );
    const name =
      split.core.name ?? `${endpoints.hosts.map((h) => `${h.host}:${h.port}`).join(",")}`;
    if (readerOptions?.budget !== undefined) {
      throw new InvalidOptionError(
        "reader.budget",
        'Option "reader.budget": a Cluster has one budget across its hosts, checked on each host against writer.max + reader.max; set "budget" at the top level.',
      );
    }
    // one check for both pools: what one host can receive from this process is writer.max +
    // reader.max (a reader falls back to the primary, the writer follows a failover anywhere)
    const budget =
      split.budget === undefined
        ? undefined
        : new BudgetCheck(
            split.budget,
            () => {
              const writerMax = this.writer.options.max;
              const readerMax = this.reader.options.max;
              return {
                max: writerMax + readerMax,
                label: `(writer max ${writerMax} + reader max ${readerMax})`,
              };
            },
            budgetHostOf,
          );
    budget?.onRefused((host, error) => this.#registry.refuse(host, error));
    const route = (target: TargetSessionAttrs): ClusterRoute => ({
      registry: this.#registry,
      target,
      budget,
    });
    const writerConfig = {
      ...shared,
      name: `${name}/writer`,
      // a write refused as read-only means the host was demoted: its older connections go too
      evictOnSqlState: shared.evictOnSqlState ?? [...defaultEvictOnSqlState, "25006"],
      [kClusterRoute]: route(writerGoal),
    };
    this.writer = new WriterPool(writerConfig, (wrote) => this.#noteWriter(wrote));
    const readerConfig = {
      ...shared,
      ...readerOptions,
      name: readerOptions?.name ?? `${name}/reader`,
      [kClusterRoute]: { ...route(readerGoal), refuseWrites: true },
    };
    this.reader = new ReaderPool(
      readerConfig,
      (config) => this.#readerGoesToWriter(config),
      this.writer,
    );
    this.#registry.start();
  }

  /**
   * Runs `fn` with read-your-writes: once it has used the writer, the reader sends its work to
   * the writer too until `fn` ends (an AsyncLocalStorage context, so one request at a time).
   */
  sticky<T>(fn: () => T): T {
    return this.#sticky.run({ wrote: false }, fn);
  }

  /** Every host: its role, lag, back-off and open connections. */
  hosts(): HostSnapshot[] {
    return this.#registry.snapshot();
  }

  /** Both pools' stats and every host's state. */
  stats(): ClusterStats {
    return { writer: this.writer.stats(), reader: this.reader.stats(), hosts: this.hosts() };
  }

  /** Learns every host's role (and lag) now rather than at the next recheck. */
  refresh(): Promise<void> {
    return this.#registry.refresh();
  }

  /** Closes both pools (see `Pool.close`) and stops the rechecks. */
  close(options?: { timeoutMillis?: number }): Promise<CloseReport[]> {
    this.#closing ??= Promise.all([this.writer.close(options), this.reader.close(options)]).then(
      (reports) => {
        this.#registry.close();
        return reports;
      },
    );
    return this.#closing;
  }

  end(): Promise<void> {
    return this.close().then(() => undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.end();
  }

  #noteWriter(_wrote: boolean): void {
    const store = this.#sticky.getStore();
    if (store !== undefined) store.wrote = true;
  }

  #readerGoesToWriter(config: unknown): boolean {
    if (this.#sticky.getStore()?.wrote === true) return true;
    if (config === undefined) return false; // connect(): the borrowed client refuses writes itself
    const text = textOf(config);
    return text === undefined || !isProvablyReadOnly(text);
  }
}

/** The writer: a Pool that notes, for `cluster.sticky()`, that the request used it. */
class WriterPool extends Pool {
  readonly #used: (wrote: boolean) => void;
  constructor(config: PoolConfig & PoolTestingOptions, used: (wrote: boolean) => void) {
    super(config);
    this.#used = used;
  }
  // biome-ignore lint/suspicious/noExplicitAny: Pool's overloads, passed through unchanged
  override connect(...args: any[]): any {
    this.#used(true);
    // biome-ignore lint/suspicious/noExplicitAny: as above
    return (super.connect as (...a: any[]) => any).apply(this, args);
  }
  // biome-ignore lint/suspicious/noExplicitAny: Pool's overloads, passed through unchanged
  override query(...args: any[]): any {
    this.#used(true);
    // biome-ignore lint/suspicious/noExplicitAny: as above
    return (super.query as (...a: any[]) => any).apply(this, args);
  }
}

/** The reader: a Pool that hands what it may not send to a standby to the writer. */
class ReaderPool extends Pool {
  readonly #toWriter: (config: unknown) => boolean;
  readonly #writer: Pool;
  constructor(
    config: PoolConfig & PoolTestingOptions,
    toWriter: (config: unknown) => boolean,
    writer: Pool,
  ) {
    super(config);
    this.#toWriter = toWriter;
    this.#writer = writer;
  }
  // biome-ignore lint/suspicious/noExplicitAny: Pool's overloads, passed through unchanged
  override connect(...args: any[]): any {
    // biome-ignore lint/suspicious/noExplicitAny: as above
    const target = (this.#toWriter(undefined) ? this.#writer : undefined) as any;
    if (target !== undefined) return target.connect(...args);
    // biome-ignore lint/suspicious/noExplicitAny: as above
    return (super.connect as (...a: any[]) => any).apply(this, args);
  }
  // biome-ignore lint/suspicious/noExplicitAny: Pool's overloads, passed through unchanged
  override query(...args: any[]): any {
    const config = args[0];
    if (
      typeof config !== "function" &&
      config !== null &&
      config !== undefined &&
      this.#toWriter(config)
    ) {
      // biome-ignore lint/suspicious/noExplicitAny: as above
      return (this.#writer.query as (...a: any[]) => any).apply(this.#writer, args);
    }
    // biome-ignore lint/suspicious/noExplicitAny: as above
    return (super.query as (...a: any[]) => any).apply(this, args);
  }
}
