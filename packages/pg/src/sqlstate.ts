import type { ErrorClass } from "@lifeguard/core";
import { InvalidOptionError } from "@lifeguard/core";

/**
 * SQLSTATEs that mean the connection is dead or pointed at the wrong server: connection
 * exceptions (class 08), and the server shutting down or not accepting connections (57P01,
 * 57P02, 57P03). Add `25006` (read-only transaction) for pools that must only talk to a primary:
 * after a failover a connection to the demoted server then gets replaced.
 */
export const defaultEvictOnSqlState: readonly string[] = ["08", "57P01", "57P02", "57P03"];

/** Node socket errors that mean the connection is gone. */
const socketCodes = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTCONN",
  "ECONNABORTED",
]);

/** pg's own errors for a connection that died. */
const deadConnectionMessages = [
  "Connection terminated",
  "Client has encountered a connection error and is not queryable",
  "Client was closed and is not queryable",
];

/** Validates `evictOnSqlState`: 5-character SQLSTATEs, or 2-character classes (`"08"` or `"08*"`). */
export function parseEvictOnSqlState(value: unknown): readonly string[] {
  if (value === undefined) return defaultEvictOnSqlState;
  if (!Array.isArray(value)) {
    throw new InvalidOptionError(
      "evictOnSqlState",
      `Invalid option "evictOnSqlState": expected an array of SQLSTATE codes ("57P01") or classes ("08" / "08*"); got ${typeof value}.`,
    );
  }
  return value.map((code: unknown) => {
    if (typeof code !== "string" || !/^[0-9A-Z]{2}(?:\*|[0-9A-Z]{3})?$/.test(code)) {
      throw new InvalidOptionError(
        "evictOnSqlState",
        `Invalid option "evictOnSqlState": ${JSON.stringify(code)} is not a SQLSTATE ("57P01") or a class ("08" / "08*").`,
      );
    }
    return code.endsWith("*") ? code.slice(0, 2) : code;
  });
}

/** Builds `classify(error)` for a list from {@link parseEvictOnSqlState}. */
export function sqlStateClassifier(codes: readonly string[]): (error: unknown) => ErrorClass {
  const exact = new Set(codes.filter((c) => c.length === 5));
  const classes = new Set(codes.filter((c) => c.length === 2));
  return (error) => {
    if (error === null || typeof error !== "object") return "statement";
    const code = (error as { code?: unknown }).code;
    const severity = (error as { severity?: unknown }).severity;
    if (typeof code === "string") {
      if (exact.has(code)) {
        if (/^[0-9A-Z]{5}$/.test(code)) return "connection";
      } else if (classes.has(code.slice(0, 2)) && /^[0-9A-Z]{5}$/.test(code)) {
        // the server answered with an ERROR (not FATAL) and the session goes on: a 08P01 for a
        // parameter-count mismatch says nothing about the connection. A class matches only
        // errors that end the session; list the exact code to evict on a plain ERROR too.
        if (severity !== "ERROR") return "connection";
      }
      if (socketCodes.has(code)) return "connection";
    }
    const message = (error as { message?: unknown }).message;
    if (typeof message === "string" && deadConnectionMessages.some((m) => message.startsWith(m))) {
      return "connection";
    }
    return "statement";
  };
}
