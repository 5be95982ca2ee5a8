import type { ServerDescription } from "@lifeguard/core";
import { NoMatchingHostError } from "../errors.js";
import type { ProbeResult } from "./host-probe.js";
import type { HostSnapshot, RoutedConnection } from "./host-state.js";
import { downBackoffMillis, HostRecord, hostMatches, isLagging, roleName } from "./host-state.js";
import type { HostAddress, LoadBalanceHosts, ServerRole, TargetSessionAttrs } from "./target.js";
import { roleMatches } from "./target.js";

/** Settings of a {@link HostRegistry}. */
export interface HostRegistryOptions {
  readonly hosts: readonly HostAddress[];
  readonly loadBalanceHosts: LoadBalanceHosts;
  /** How long a learned role is trusted before it is checked again (pgjdbc's hostRecheckSeconds). */
  readonly recheckMillis: number;
  /** Standbys further behind are not used for reads (undefined: no limit, lag not measured). */
  readonly maxReplicaLagMillis: number | undefined;
  /** Learns one host's role (and lag) on a connection of its own. */
  readonly probe: (address: HostAddress, measureLag: boolean) => Promise<ProbeResult>;
  readonly now?: () => number;
  readonly random?: () => number;
}

/** While no host matches a target: how often the hosts are asked again (a failover in progress). */
const NO_MATCH_POLL_MILLIS = 100;

/**
 * Every host of a cluster and what is known of each: the one place roles are learned (from the
 * start-up reports of each connection, from a ParameterStatus mid-session, from rechecks) and the
 * one place a host is chosen for a new connection. Shared by the writer and the reader, so what one
 * learns (a promotion, a host down) the other uses at once.
 * @internal
 */
export class HostRegistry {
  readonly records: readonly HostRecord[];
  readonly #o: HostRegistryOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  #round: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Wakes the connects waiting for a host to match when a role is learned. */
  #changed: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(options: HostRegistryOptions) {
    this.#o = options;
    this.records = options.hosts.map((address) => new HostRecord(address));
    this.#now = options.now ?? (() => performance.now());
    this.#random = options.random ?? Math.random;
  }

  /** Starts the periodic recheck (an unref'd timer: it never keeps the process alive). */
  start(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => void this.refresh().catch(noop), this.#o.recheckMillis);
    this.#timer.unref();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  get maxReplicaLagMillis(): number | undefined {
    return this.#o.maxReplicaLagMillis;
  }

  recordFor(address: HostAddress): HostRecord | undefined {
    return this.records.find((r) => r.host === address.host && r.port === address.port);
  }

  /**
   * Chooses the host a new connection for `target` goes to: in the order given (or shuffled with
   * `load_balance_hosts=random`), `prefer-standby` trying standbys first, skipping hosts whose
   * connects failed until their back-off ends. When no host is known to match (at start, or during
   * a failover), the hosts are asked (rechecked) every 100 ms until one does or `deadline` passes;
   * when every host is down it fails at once with the last connect error.
   */
  async choose(
    target: TargetSessionAttrs,
    lagLimited: boolean,
    deadline: number,
    abandoned: () => boolean,
  ): Promise<HostRecord> {
    for (let round = 0; ; round++) {
      const now = this.#now();
      const chosen = this.#pick(target, lagLimited);
      if (chosen !== undefined) {
        // a role learned long ago is still used, and learned again beside it
        if (now - chosen.learnedAt > this.#o.recheckMillis) void this.refresh().catch(noop);
        // counted until the connect ends (opened()), so a burst of connects spreads too
        chosen.opening++;
        return chosen;
      }
      const reachable = this.records.filter((r) => !r.skipped(now));
      // the only hosts that could serve are closed to this process (over its connection budget)
      const refused = this.#refusalFor(target, now);
      if (refused !== undefined) throw refused;
      if (reachable.length === 0 && round > 0) throw this.#allDown(target);
      if (this.#closed || abandoned()) throw this.#noMatch(target, "the connect was abandoned");
      if (round > 0) {
        if (now + NO_MATCH_POLL_MILLIS > deadline) throw this.#noMatch(target, "time ran out");
        // a session already open may hear of a promotion first (in_hot_standby flips)
        await Promise.race([sleep(NO_MATCH_POLL_MILLIS), this.#nextChange()]);
      }
      await Promise.race([this.refresh(), this.#nextChange()]);
    }
  }

  #pick(target: TargetSessionAttrs, lagLimited: boolean): HostRecord | undefined {
    const order = this.#order();
    const max = this.#o.maxReplicaLagMillis;
    // hosts in order, as libpq tries them: with `load_balance_hosts=disable` a host whose role is
    // not known yet is learned before any host after it is chosen (in a random order, any known
    // match will do). A host whose connects failed is used again only once a recheck reached it:
    // a connection sent there on the chance would fail the pool's connect (and back-off) again.
    const inOrder = this.#o.loadBalanceHosts === "disable";
    const first = (accepts: (r: HostRecord) => boolean): HostRecord | null | undefined => {
      if (!inOrder) return leastLoaded(order, accepts);
      for (const r of order) {
        if (r.down) continue;
        if (r.role === undefined) return null;
        if (accepts(r)) return r;
      }
      return undefined;
    };
    const usable = (r: HostRecord) => hostMatches(r, target, lagLimited, max);
    if (target !== "prefer-standby") return first(usable) ?? undefined;
    const standby = first((r) => usable(r) && r.isStandby());
    if (standby !== undefined) return standby ?? undefined; // null: wait for an unknown host
    // no standby known: one not learned yet may be a standby
    if (order.some((r) => !r.down && r.role === undefined)) return undefined;
    return first(usable) ?? undefined;
  }

  #order(): HostRecord[] {
    const order = [...this.records];
    if (this.#o.loadBalanceHosts === "random") {
      // Fisher-Yates, as libpq shuffles its host list for each connection
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(this.#random() * (i + 1));
        [order[i], order[j]] = [order[j] as HostRecord, order[i] as HostRecord];
      }
    }
    return order;
  }

  /**
   * Learns every host's role again (those in a connect back-off only once it ends). One round at a
   * time: callers arriving meanwhile share it.
   */
  refresh(): Promise<void> {
    if (this.#round !== undefined) return this.#round;
    const now = this.#now();
    const due = this.records.filter((r) => !r.skipped(now));
    const round = Promise.all(due.map((r) => this.#probe(r))).then(noop);
    this.#round = round;
    void round.finally(() => {
      if (this.#round === round) this.#round = undefined;
    });
    return round;
  }

  async #probe(record: HostRecord): Promise<void> {
    const measureLag = this.#o.maxReplicaLagMillis !== undefined;
    try {
      const result = await this.#o.probe(record, measureLag);
      record.lagMillis = result.lagMillis;
      this.learned(record, result.role);
    } catch (error) {
      this.failed(record, error);
    }
  }

  #nextChange(): Promise<void> {
    if (this.#changed === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.#changed = { promise, resolve };
    }
    return this.#changed.promise;
  }

  /**
   * The host `key` (`address:port`) may not be used by this process (its connection budget is
   * exceeded, under `enforce`): no new connection goes there; when no other host matches, connects
   * fail at once with `error` instead of trying it again.
   */
  refuse(key: string, error: Error): void {
    const record = this.records.find((r) => r.key === key);
    if (record !== undefined && record.refusal === undefined) record.refusal = error;
  }

  /**
   * The refusal to fail a connect with when every host that could serve `target` is refused (a
   * host whose role is not known yet might still serve: then none).
   */
  #refusalFor(target: TargetSessionAttrs, now: number): Error | undefined {
    let refusal: Error | undefined;
    for (const r of this.records) {
      if (r.skipped(now)) continue;
      const serves = r.role === undefined || roleMatches(r.role, target);
      if (r.refusal === undefined) {
        if (serves) return undefined;
      } else if (serves) {
        refusal ??= r.refusal;
      }
    }
    return refusal;
  }

  /** A connect to `record` that {@link choose} sent there ended, opened or not. */
  opened(record: HostRecord): void {
    if (record.opening > 0) record.opening--;
  }

  /** A connection (or a recheck) reported the host's role: remember it, retire what no longer fits. */
  learned(record: HostRecord, role: ServerRole): void {
    const cameBack = record.down || record.role === undefined;
    const changed =
      record.down ||
      record.role === undefined ||
      record.role.hotStandby !== role.hotStandby ||
      record.role.readOnly !== role.readOnly;
    record.role = role;
    record.learnedAt = this.#now();
    record.failures = 0;
    record.retryAt = 0;
    record.lastError = undefined;
    this.#retireMismatched(record);
    if (cameBack && this.#o.loadBalanceHosts === "random") this.#rebalance(record);
    if (changed && this.#changed !== undefined) {
      const { resolve } = this.#changed;
      this.#changed = undefined;
      resolve();
    }
  }

  /** A connect to the host failed: skip it, with a back-off, until it answers again. */
  failed(record: HostRecord, error: unknown): void {
    record.failures++;
    record.lastError = error;
    record.retryAt = this.#now() + downBackoffMillis(record.failures, this.#o.recheckMillis);
  }

  /**
   * The host may have changed (a connection to it ended, or a write was refused as read-only):
   * check it now rather than at the next recheck.
   */
  suspect(_record: HostRecord): void {
    void this.refresh().catch(noop);
  }

  track(record: HostRecord, connection: RoutedConnection): void {
    record.connections.add(connection);
  }

  untrack(record: HostRecord, connection: RoutedConnection): void {
    record.connections.delete(connection);
  }

  /** Connections to `record` opened for a target the host no longer matches are closed on return. */
  #retireMismatched(record: HostRecord): void {
    const max = this.#o.maxReplicaLagMillis;
    for (const connection of record.connections) {
      if (!hostMatches(record, connection.target, connection.lagLimited, max)) connection.retire();
      else if (connection.target === "prefer-standby" && !record.isStandby()) {
        // a promoted standby: reads move to another standby when there is one
        const now = this.#now();
        const standby = this.records.some(
          (r) =>
            r !== record &&
            !r.skipped(now) &&
            r.isStandby() &&
            hostMatches(r, "standby", connection.lagLimited, max),
        );
        if (standby) connection.retire();
      }
    }
  }

  /**
   * A host came (back) into service with `load_balance_hosts=random`: the connections that could
   * go to it now crowd the other hosts. Enough of them are retired, on their next return, from
   * the most loaded hosts that `record` gets its share when they are replaced (replacements go to
   * the least loaded host): the reads spread again without waiting for the lifetime to turn them
   * over, and without closing everything at once.
   */
  #rebalance(record: HostRecord): void {
    const max = this.#o.maxReplicaLagMillis;
    const movable = new Map<HostRecord, RoutedConnection[]>();
    let total = 0;
    for (const r of this.records) {
      if (r === record || r.down) continue;
      const list = [...r.connections].filter(
        (c) =>
          hostMatches(record, c.target, c.lagLimited, max) &&
          // prefer-standby reads only move from a primary to a standby, not the other way
          (c.target !== "prefer-standby" || record.isStandby() || !r.isStandby()),
      );
      if (list.length === 0) continue;
      movable.set(r, list);
      total += list.length;
    }
    const hosts = movable.size + 1;
    let deficit = Math.floor((total + record.connections.size) / hosts) - record.connections.size;
    while (deficit > 0) {
      let busiest: RoutedConnection[] | undefined;
      for (const list of movable.values()) {
        if (busiest === undefined || list.length > busiest.length) busiest = list;
      }
      const connection = busiest?.pop();
      if (connection === undefined) break;
      connection.retire();
      deficit--;
    }
  }

  /** Every host as the metrics report it (core's `ServerDescription`: role, up, lag, failed connects). */
  servers(): ServerDescription[] {
    return this.records.map((r) => {
      const role = roleName(r);
      return {
        address: r.host,
        port: r.port,
        role,
        up: role === "primary" || role === "standby",
        lagSeconds: r.lagMillis === undefined ? undefined : r.lagMillis / 1000,
        connectFailures: r.failures,
      };
    });
  }

  snapshot(): HostSnapshot[] {
    const now = this.#now();
    return this.records.map((r) => {
      const connections: Partial<Record<TargetSessionAttrs, number>> = {};
      for (const c of r.connections) connections[c.target] = (connections[c.target] ?? 0) + 1;
      return {
        host: r.host,
        port: r.port,
        role: roleName(r),
        readOnly: r.role?.readOnly ?? false,
        lagMillis: r.lagMillis,
        lagging: isLagging(r, this.#o.maxReplicaLagMillis),
        ageMillis: Number.isFinite(r.learnedAt) ? now - r.learnedAt : Number.POSITIVE_INFINITY,
        failures: r.failures,
        lastError: r.lastError instanceof Error ? r.lastError.message : undefined,
        connections,
      };
    });
  }

  #allDown(target: TargetSessionAttrs): Error {
    const last = this.records.find((r) => r.lastError !== undefined)?.lastError;
    const hosts = this.records.map((r) => `${r.key} (${describe(r.lastError)})`).join(", ");
    const error = new NoMatchingHostError(
      `No host for target_session_attrs=${target}: every host refused the connection: ${hosts}.`,
      { cause: last },
    );
    return error;
  }

  #noMatch(target: TargetSessionAttrs, why: string): Error {
    const hosts = this.records.map((r) => `${r.key} ${roleName(r)}`).join(", ");
    return new NoMatchingHostError(
      `No host matches target_session_attrs=${target} (${why}): ${hosts}. A failover may be in progress; the pool tries again on the next acquire.`,
    );
  }
}

function describe(error: unknown): string {
  if (error === undefined) return "no error";
  return error instanceof Error ? error.message : String(error);
}

function sleep(millis: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, millis).unref());
}

const noop = () => {};

/**
 * The host with the fewest connections open or opening among those that accept, ties broken by
 * `order` (already shuffled): how `load_balance_hosts=random` spreads a pool's connections. Hosts
 * whose role is not known yet are passed over.
 */
function leastLoaded(
  order: readonly HostRecord[],
  accepts: (r: HostRecord) => boolean,
): HostRecord | undefined {
  let best: HostRecord | undefined;
  for (const r of order) {
    if (r.down || r.role === undefined || !accepts(r)) continue;
    if (best === undefined || r.load < best.load) best = r;
  }
  return best;
}
