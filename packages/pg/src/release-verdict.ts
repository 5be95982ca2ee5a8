import type { ErrorClass, ReleaseOptions } from "@lifeguard/core";
import type pg from "pg";
import { socketDestroyed } from "./pg-internals.js";
import { sessionOf } from "./session.js";

/** SQLSTATEs that say the whole server is going away, not only this session. */
const serverGoneCodes = new Set(["57P02", "57P03"]);

/**
 * What `release(err)` does with the connection. The error alone does not decide: an
 * `ECONNREFUSED` from another service, or a parameter-count mismatch the server answered (08P01,
 * session still usable), say nothing about this connection.
 *
 * - This connection is dead (its socket ended, a fatal error on it, a FATAL/PANIC from the
 *   server): it is closed, and the idle connections opened before it are checked (pinged) before
 *   they are lent again, not closed.
 * - The server said it is going away (57P02 crash shutdown, 57P03 starting or stopping), or sent
 *   an error `evictOnSqlState` lists on a session that lives on (`25006` after a failover): it is
 *   closed and every connection opened before it is retired.
 * - Anything else is the borrower's error: the connection is cleaned and kept.
 * @internal
 */
export function releaseOptionsFor(
  client: pg.Client,
  error: unknown,
  connector: { classify(error: unknown): ErrorClass },
): ReleaseOptions | undefined {
  if (!(error instanceof Error)) return { destroy: true }; // pg: release(true) destroys the client
  const session = sessionOf(client);
  const record = error as { code?: unknown; severity?: unknown };
  const fromServer = typeof record.severity === "string" && typeof record.code === "string";
  if (fromServer && serverGoneCodes.has(record.code as string)) return { error };
  const fatal = fromServer && (record.severity === "FATAL" || record.severity === "PANIC");
  if (fatal || session?.broken === true || socketDestroyed(client)) {
    if (session !== undefined) session.broken = true;
    // the pool sees a broken connection: closes it and pings older idle ones before lending them
    return undefined;
  }
  if (fromServer && connector.classify(error) === "connection") return { error };
  return undefined;
}
