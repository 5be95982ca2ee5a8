import type { ConnectionBag } from "./bag.js";
import type { ServerDescription } from "./connector.js";
import type { GuardedConnector } from "./guarded-connector.js";

/** One server of `pool.servers()`: what the connector knows of it, and this pool's connections to it. */
export interface ServerStats extends ServerDescription {
  /** This pool's open connections to it that are ready to lend. */
  readonly idle: number;
  /** This pool's open connections to it that are not idle (leased, being pinged, being cleaned). */
  readonly used: number;
}

/**
 * Counts the pool's open connections by server and state, from the same bag `stats()` counts, so
 * the servers' idle and used add up to the pool's (every connection the connector can place). Done
 * at the call, never kept up to date per acquire: a pool on one server pays nothing for it.
 * @internal
 */
export function serverSnapshot<C>(
  connector: GuardedConnector<C>,
  bag: ConnectionBag<C>,
): ServerStats[] {
  const servers = connector.servers();
  if (servers.length === 0) return [];
  const counts = new Map<string, { idle: number; used: number }>();
  for (const server of servers)
    counts.set(keyOf(server.address, server.port), { idle: 0, used: 0 });
  for (const entry of bag.entries()) {
    const at = connector.serverOf(entry.connection);
    if (at === undefined) continue;
    const count = counts.get(keyOf(at.address, at.port));
    if (count === undefined) continue;
    if (entry.state === "idle") count.idle++;
    else count.used++;
  }
  return servers.map((server) => {
    const count = counts.get(keyOf(server.address, server.port)) as { idle: number; used: number };
    return {
      address: server.address,
      port: server.port,
      role: server.role,
      up: server.up,
      lagSeconds: server.lagSeconds,
      connectFailures: server.connectFailures,
      idle: count.idle,
      used: count.used,
    };
  });
}

function keyOf(address: string, port: number): string {
  return `${address}:${port}`;
}
