// The per-host metrics of a pool spread over several hosts (cluster mode, docs/cluster.md): new
// metric names beside the per-pool ones, so summing any one metric never counts a connection twice
// (docs/metrics.md, "Per host").
import type { ServerStats } from "@lifeguard/core";
import type { SeriesSnapshot } from "@lifeguard/core/internal";
import type { Attributes } from "@opentelemetry/api";

/** `server.address`: the host's name or IP, as given in the connection string. */
export const ATTR_SERVER_ADDRESS = "server.address";
/** `server.port`: the host's port. */
export const ATTR_SERVER_PORT = "server.port";
/** `lifeguard.host.role`: `primary`, `standby`, `down` (connects failing) or `unknown` (not reached yet). */
export const ATTR_HOST_ROLE = "lifeguard.host.role";

type Emit = (attributes: Attributes, value: number) => void;

/** The attribute set of one host of one pool, built at collection (roles change). */
function hostAttributes(pool: Attributes, server: ServerStats): Attributes {
  return {
    ...pool,
    [ATTR_SERVER_ADDRESS]: server.address,
    [ATTR_SERVER_PORT]: server.port,
    [ATTR_HOST_ROLE]: server.role,
  };
}

/** One point per host (and state), from the snapshot's servers. @internal */
export function observeHosts(
  { servers }: SeriesSnapshot,
  pool: Attributes,
  emit: Emit,
  read: (server: ServerStats, attributes: Attributes, emit: Emit) => void,
): void {
  for (const server of servers) read(server, hostAttributes(pool, server), emit);
}
