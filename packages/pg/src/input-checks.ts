import { InvalidOptionError } from "@lifeguard/core";
import pg from "pg";
import { passwordInUrl } from "./redact.js";

type ClientClass = new (config?: pg.ClientConfig) => pg.Client;

/**
 * Builds a client from the pool's config without connecting, to catch what would otherwise fail
 * only at the first connect (or with a bare `TypeError: Invalid URL`): a connection string pg
 * cannot parse, a non-numeric port, no user name at all.
 * @internal
 */
export function checkClientTarget(
  Client: ClientClass,
  config: pg.ClientConfig,
  connectionString: string | undefined,
  userFromCredentials = false,
): pg.Client {
  const port = (config as { port?: unknown }).port;
  if (port !== undefined && !isPort(port)) {
    throw new InvalidOptionError(
      "port",
      `Invalid option "port": expected an integer from 1 to 65535; got ${JSON.stringify(port)}.`,
    );
  }
  let probe: pg.Client;
  try {
    probe = new Client(config);
  } catch (error) {
    if (connectionString === undefined) throw error;
    const secret = passwordInUrl(connectionString);
    let shown = connectionString;
    if (secret !== undefined) {
      for (const form of [secret, encodeURIComponent(secret)])
        shown = shown.split(form).join("***");
    }
    // not the original error as cause: Node's URL error carries the whole URL, password included
    throw new InvalidOptionError(
      "connectionString",
      `Invalid option "connectionString": pg cannot parse ${JSON.stringify(shown)} (${(error as Error).message}). Expected postgres://user:password@host:5432/database: the port must be a number, and characters such as %, @, / or # in the user name or password must be percent-encoded (encodeURIComponent).`,
    );
  }
  const urlPort = (probe as { port?: unknown }).port;
  if (urlPort !== undefined && !isPort(urlPort)) {
    throw new InvalidOptionError(
      "connectionString",
      `Invalid option "connectionString": the port must be an integer from 1 to 65535; got ${JSON.stringify(urlPort)}.`,
    );
  }
  const user = (probe as { user?: unknown }).user;
  // a Client that is not pg's own may take its user from elsewhere, as may `credentials`
  if (
    !userFromCredentials &&
    probe instanceof pg.Client &&
    (user === undefined || user === null || user === "")
  ) {
    throw new InvalidOptionError(
      "user",
      `No PostgreSQL user name: pass "connectionString" (postgres://user:password@host:5432/database) or "user" (and "host"), or set PGUSER. pg would otherwise send an empty user name and the server would refuse it.`,
    );
  }
  return probe;
}

function isPort(value: unknown): boolean {
  const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  return typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535;
}

/**
 * The first argument of `pool.query()`, checked before a connection is borrowed (pg checks it only
 * once it has a client). Returns the error to reject with, the one pg would throw.
 * @internal
 */
export function checkQueryConfig(config: unknown): Error | undefined {
  if (config === null || config === undefined) {
    return new TypeError("Client was passed a null or undefined query");
  }
  return undefined;
}
