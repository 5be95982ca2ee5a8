import type { HostAddress, ServerRole, TargetSessionAttrs } from "./target.js";
import { roleMatches } from "./target.js";

/** A host's role as the cluster last learned it. */
export type HostRole = "primary" | "standby" | "unknown" | "down";

/** One host as `cluster.hosts()` reports it. */
export interface HostSnapshot {
  readonly host: string;
  readonly port: number;
  /** `primary` (not in hot standby), `standby`, `down` (connects failing), or `unknown` (not yet reached). */
  readonly role: HostRole;
  /** `default_transaction_read_only` is on: `read-write` connections avoid it. */
  readonly readOnly: boolean;
  /** Replay lag of a standby at the last recheck, in ms (only measured with `maxReplicaLagMillis`). */
  readonly lagMillis: number | undefined;
  /** A standby behind by more than `maxReplicaLagMillis`: not used for reads until it catches up. */
  readonly lagging: boolean;
  /** Milliseconds since the role was last learned (Infinity: never). */
  readonly ageMillis: number;
  /** Consecutive failed connects; the host is skipped until its back-off ends. */
  readonly failures: number;
  /** The last connect error, message only. */
  readonly lastError: string | undefined;
  /** Open connections to it, by the target they were opened for. */
  readonly connections: Readonly<Partial<Record<TargetSessionAttrs, number>>>;
}

/** A connection the cluster routed to a host, so it can be retired when the host stops matching. */
export interface RoutedConnection {
  readonly target: TargetSessionAttrs;
  /** Reads with a lag limit: a lagging standby does not match. */
  readonly lagLimited: boolean;
  /** What this session itself last heard from its server (undefined before start-up finished). */
  role: ServerRole | undefined;
  /** Closes the connection on its next return to the pool (never under a borrower). */
  retire(): void;
}

/** First back-off after a failed connect to a host; it doubles up to the recheck interval. */
const DOWN_BACKOFF_INITIAL_MILLIS = 100;

/**
 * What is known of one host: its role (from start-up reports and rechecks), whether connects to it
 * fail (with a back-off so a down host is not retried on every acquire), its replay lag, and the
 * connections routed to it.
 * @internal
 */
export class HostRecord implements HostAddress {
  readonly host: string;
  readonly port: number;
  readonly key: string;
  readonly servername: string | undefined;
  role: ServerRole | undefined = undefined;
  /** When the role was last learned (from a connection or a recheck). */
  learnedAt = Number.NEGATIVE_INFINITY;
  failures = 0;
  /** While connects fail: no new connect before this. */
  retryAt = 0;
  lastError: unknown = undefined;
  lagMillis: number | undefined = undefined;
  readonly connections = new Set<RoutedConnection>();
  /** Connects sent here that have not ended yet. */
  opening = 0;
  /**
   * Why this process may not use the host at all (its connection budget, under `enforce`): set
   * once, never cleared, since the verdict stands for the process's lifetime.
   */
  refusal: Error | undefined = undefined;

  constructor(address: HostAddress) {
    this.host = address.host;
    this.port = address.port;
    this.servername = address.servername;
    this.key = `${address.host}:${address.port}`;
  }

  /** Connections open or being opened here: what least-loaded choice compares. */
  get load(): number {
    return this.connections.size + this.opening;
  }

  get down(): boolean {
    return this.failures > 0;
  }

  /** Skipped for now: connects failed and the back-off has not run out. */
  skipped(now: number): boolean {
    return this.failures > 0 && now < this.retryAt;
  }

  isStandby(): boolean {
    return this.role?.hotStandby === true;
  }
}

/** The back-off of a host whose connects failed `failures` times in a row. */
export function downBackoffMillis(failures: number, capMillis: number): number {
  return Math.min(
    Math.max(capMillis, DOWN_BACKOFF_INITIAL_MILLIS),
    DOWN_BACKOFF_INITIAL_MILLIS * 2 ** Math.min(failures - 1, 20),
  );
}

/** The role's name for snapshots and metrics. */
export function roleName(record: HostRecord): HostRole {
  if (record.down) return "down";
  if (record.role === undefined) return "unknown";
  return record.role.hotStandby ? "standby" : "primary";
}

/** Whether a connection for `target` may go to (or stay on) this host, from what is known of it. */
export function hostMatches(
  record: HostRecord,
  target: TargetSessionAttrs,
  lagLimited: boolean,
  maxLagMillis: number | undefined,
): boolean {
  const role = record.role;
  if (role === undefined || record.down || record.refusal !== undefined) return false;
  if (!roleMatches(role, target)) return false;
  return !(lagLimited && role.hotStandby && isLagging(record, maxLagMillis));
}

export function isLagging(record: HostRecord, maxLagMillis: number | undefined): boolean {
  if (maxLagMillis === undefined || !record.isStandby() || record.lagMillis === undefined)
    return false;
  return record.lagMillis > maxLagMillis;
}
