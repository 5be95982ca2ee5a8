import type { EventEmitter } from "node:events";
import type pg from "pg";

/**
 * The only module that reaches into pg's undeclared members. pg has no public way to ask whether a
 * client has work in flight, to drop a blackholed socket, to hear ParameterStatus messages or to
 * forget prepared statements the server deallocated, so Lifeguard reads what pg's own code uses.
 * If pg renames one, resets would silently take the slow path and blackholed sockets would never
 * be torn down: `test/pg-internals.test.ts` checks every name below on a real connected client and
 * fails when the installed pg lacks any of them.
 */

/** Members of a `pg.Client` (8.x) that @types/pg does not declare. */
export const clientMembers = [
  "readyForQuery",
  "pipeline",
  "_queryQueue",
  "_sentQueryQueue",
  "_activeQuery",
  "connection",
  "ref",
  "unref",
  "connectionParameters",
] as const;

/** Members of `client.connection` (pg's `Connection`). */
export const connectionMembers = [
  "stream",
  "parsedStatements",
  "submittedNamedStatements",
] as const;

/** Events `client.connection` emits that Lifeguard listens to. */
export const connectionEvents = ["parameterStatus"] as const;

/** Fields of `pg.Pool` the drop-in keeps current (declared read-only by @types/pg). */
export const poolMembers = ["ending", "ended"] as const;

interface ClientInternals {
  readyForQuery?: boolean;
  pipeline?: boolean;
  _queryQueue?: unknown[];
  _sentQueryQueue?: unknown[];
  _activeQuery?: unknown;
  connection?: ConnectionInternals;
  ref?: () => void;
  unref?: () => void;
  host?: string;
  port?: number;
  connectionParameters?: { host: string; port: number; user?: string };
}

interface ConnectionInternals extends EventEmitter {
  ssl?: boolean | Record<string, unknown>;
  stream?: { destroy?: () => void; destroyed?: boolean; cork?: () => void; uncork?: () => void };
  parsedStatements?: Record<string, unknown>;
  submittedNamedStatements?: Record<string, unknown>;
}

function internals(client: pg.Client): ClientInternals {
  return client as unknown as ClientInternals;
}

/**
 * The client has nothing queued or in flight (a statement still running at release must finish
 * before the clean-up).
 */
export function isQuiet(client: pg.Client): boolean {
  const c = internals(client);
  return (
    (c.pipeline === true || c.readyForQuery === true) &&
    c._queryQueue?.length === 0 &&
    (c._sentQueryQueue?.length ?? 0) === 0 &&
    (c._activeQuery === null || c._activeQuery === undefined)
  );
}

/** pg can still report transaction status "T" just after a failed query whose ReadyForQuery has not arrived. */
export function awaitsReadyForQuery(client: pg.Client): boolean {
  return internals(client).readyForQuery === false;
}

/** pg's pipeline mode (`pipeline: true` in the client config): statements are written at once. */
export function isPipelined(client: pg.Client): boolean {
  return internals(client).pipeline === true;
}

/**
 * Switches pg's pipeline mode on a connected client (pipelineQueries). pg reads the flag on every
 * query and ReadyForQuery, so it may go on at any time; it may go off only while the client is
 * quiet, since pg's ordinary mode does not look at the queries already written.
 */
export function setPipelined(client: pg.Client, on: boolean): void {
  internals(client).pipeline = on;
}

/** Holds the socket's writes in memory until {@link uncorkSocket}: one packet for a tick's queries. */
export function corkSocket(client: pg.Client): void {
  internals(client).connection?.stream?.cork?.();
}

export function uncorkSocket(client: pg.Client): void {
  internals(client).connection?.stream?.uncork?.();
}

/** Drops the socket at once: for dead, blackholed or abandoned connections. */
export function destroySocket(client: pg.Client): void {
  internals(client).connection?.stream?.destroy?.();
}

/** The socket is already destroyed (ended, reset, or dropped by us). */
export function socketDestroyed(client: pg.Client): boolean {
  return internals(client).connection?.stream?.destroyed === true;
}

/** pg.Client has ref()/unref() (they hold the socket's reference); @types/pg omits them. */
export function setRef(client: pg.Client, ref: boolean): void {
  const c = internals(client);
  if (ref) c.ref?.();
  else c.unref?.();
}

/** Calls `listener` on every ParameterStatus message (start-up reports, and each later change). */
export function onParameterStatus(
  client: pg.Client,
  listener: (message: { parameterName?: string; parameterValue?: string }) => void,
): void {
  internals(client).connection?.on("parameterStatus", listener);
}

/**
 * pg keeps the names of statements it has parsed on the connection so it can skip Parse next
 * time; once the server has deallocated them that cache lies and the next named query fails with
 * "prepared statement does not exist". pg has no public API to forget them, so this edits its two
 * maps directly.
 */
export function forgetPreparedStatements(
  client: pg.Client,
  which: "all" | readonly string[],
): void {
  const connection = internals(client).connection;
  if (connection === undefined) return;
  for (const key of ["parsedStatements", "submittedNamedStatements"] as const) {
    const map = connection[key];
    if (map === undefined) continue;
    if (which === "all") connection[key] = {};
    else for (const name of which) delete map[name];
  }
}

/** pg.Pool keeps `ending`/`ended` as plain fields read by its own code and by applications. */
export function setPoolEnding(pool: pg.Pool, stage: "ending" | "ended"): void {
  const record = pool as unknown as { ending: boolean; ended: boolean };
  record.ending = true;
  if (stage === "ended") record.ended = true;
}

/**
 * Points a client that has not connected yet at one host of a cluster: pg reads `host`/`port` when
 * it connects (and for cancel requests), and `connectionParameters` for the password file.
 */
export function pointAt(
  client: pg.Client,
  address: { host: string; port: number; servername?: string | undefined },
): void {
  const c = internals(client);
  c.host = address.host;
  c.port = address.port;
  if (c.connectionParameters !== undefined) {
    c.connectionParameters.host = address.host;
    c.connectionParameters.port = address.port;
  }
  // a numeric hostaddr: TLS checks the certificate against the host name, as libpq does (pg
  // itself sends no SNI for an address and would check against the address)
  const connection = c.connection;
  const ssl = connection?.ssl;
  if (address.servername !== undefined && connection !== undefined && ssl) {
    const options = ssl === true ? {} : ssl;
    if (options["servername"] === undefined) {
      connection.ssl = { ...options, servername: address.servername };
    }
  }
}

/**
 * Logs a client that is not yet connected in as `user`: pg sends the startup message's user from
 * `connectionParameters`, which a connection string decides over the `user` option.
 */
export function setLoginUser(client: pg.Client, user: string): void {
  const c = internals(client);
  if (c.connectionParameters !== undefined) c.connectionParameters.user = user;
  (client as { user?: string }).user = user;
}
