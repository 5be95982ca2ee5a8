import type { TargetSessionAttrs } from "./conninfo.js";

// the values and types are the connection-string parser's, stated once there
export type { LoadBalanceHosts, TargetSessionAttrs } from "./conninfo.js";
export { loadBalanceHostsValues, targetSessionAttrsValues } from "./conninfo.js";

/** One host of a multi-host target. */
export interface HostAddress {
  readonly host: string;
  readonly port: number;
  /** With a numeric `hostaddr`: the host name TLS verifies the server's certificate against. */
  readonly servername?: string | undefined;
}

/**
 * What a server said about itself: `in_hot_standby` and `default_transaction_read_only`, reported
 * at start-up (and `in_hot_standby` again when a standby is promoted) by PostgreSQL 14 and later.
 */
export interface ServerRole {
  readonly hotStandby: boolean;
  readonly readOnly: boolean;
}

/**
 * Whether a session on a server in `role` satisfies `target`, as libpq decides it:
 * `read-write` needs neither hot standby nor default read-only, `primary` only no hot standby.
 * `prefer-standby` accepts anything here: the preference is in the order hosts are tried.
 */
export function roleMatches(role: ServerRole, target: TargetSessionAttrs): boolean {
  switch (target) {
    case "any":
    case "prefer-standby":
      return true;
    case "read-write":
      return !role.hotStandby && !role.readOnly;
    case "read-only":
      return role.hotStandby || role.readOnly;
    case "primary":
      return !role.hotStandby;
    case "standby":
      return role.hotStandby;
    default:
      return target satisfies never;
  }
}

/** A target that only ever lends connections that cannot write (the reader's, with a lag limit). */
export function isReadTarget(target: TargetSessionAttrs): boolean {
  return target === "read-only" || target === "standby" || target === "prefer-standby";
}
