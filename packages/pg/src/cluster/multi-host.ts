import pg from "pg";
import type { BudgetCheck } from "../budget.js";
import type { SplitConfig } from "../options.js";
import { endpointsOf } from "./endpoints.js";
import { probeHost } from "./host-probe.js";
import { HostRegistry } from "./host-registry.js";
import { routedClientClass } from "./routed-client.js";
import type { HostAddress, LoadBalanceHosts, TargetSessionAttrs } from "./target.js";
import { isReadTarget } from "./target.js";

type ClientClass = new (config?: pg.ClientConfig) => pg.Client;

/** Given by a `Cluster` to each of its pools: the shared hosts and this pool's target. @internal */
export interface ClusterRoute {
  readonly registry: HostRegistry;
  readonly target: TargetSessionAttrs;
  /** The reader's: borrowed clients refuse statements that may write. */
  readonly refuseWrites?: boolean;
  /** The cluster's one budget check, shared by its pools (each host checked once). */
  readonly budget?: BudgetCheck | undefined;
}

/** The key a `Cluster` hands its route to a `Pool` under (never a user's option). @internal */
export const kClusterRoute = Symbol("lifeguard.cluster.route");

/** What a multi-host pool connects with. @internal */
export interface MultiHostSetup {
  readonly registry: HostRegistry;
  /** The registry is this pool's own (a multi-host connection string), closed with it. */
  readonly ownsRegistry: boolean;
  readonly target: TargetSessionAttrs;
  /** The application's Client class, routed: each connection chooses its host. */
  readonly Client: ClientClass;
  /** LISTEN works only on a primary: the pool's LISTEN connection goes to one. */
  readonly ListenClient: ClientClass;
  readonly clientConfig: pg.ClientConfig;
}

/** How long a pool's connect may wait for a host that matches (its acquire timeout). */
function waitMillisOf(split: SplitConfig): number {
  return split.core.acquireTimeoutMillis ?? 10_000;
}

/**
 * The multi-host set-up of a pool: from a `Cluster` (`route`), or from the pool's own
 * configuration when it names several hosts or a multi-host setting (the drop-in with
 * `postgres://h1,h2/db?target_session_attrs=read-write`). Undefined for a single-host pool.
 * @internal
 */
export function multiHostSetup(
  split: SplitConfig,
  route: ClusterRoute | undefined,
): MultiHostSetup | undefined {
  const endpoints = endpointsOf(
    {
      ...(split.client as Record<string, unknown>),
      targetSessionAttrs: split.targetSessionAttrs,
      loadBalanceHosts: split.loadBalanceHosts,
    },
    route !== undefined,
  );
  if (endpoints === undefined) return undefined;
  const Base = split.Client ?? pg.Client;
  const clientConfig = endpoints.config as pg.ClientConfig;
  const target = route?.target ?? endpoints.targetSessionAttrs;
  const registry =
    route?.registry ??
    createRegistry(Base, clientConfig, endpoints.hosts, split, endpoints.loadBalanceHosts);
  const Client = routedClientClass(Base, {
    registry,
    target,
    lagLimited: isReadTarget(target),
    waitMillis: waitMillisOf(split),
    refuseWrites: route?.refuseWrites === true,
  });
  const ListenClient = routedClientClass(Base, {
    registry,
    target: "primary",
    lagLimited: false,
    waitMillis: waitMillisOf(split),
  });
  return {
    registry,
    ownsRegistry: route === undefined,
    target,
    Client,
    ListenClient,
    clientConfig,
  };
}

/** The registry of a set of hosts, rechecking them on connections of their own. @internal */
export function createRegistry(
  Base: ClientClass,
  clientConfig: pg.ClientConfig,
  hosts: readonly HostAddress[],
  split: SplitConfig,
  loadBalanceHosts: LoadBalanceHosts,
): HostRegistry {
  const maxLag = split.maxReplicaLagMillis;
  const timeoutMillis = Math.min(waitMillisOf(split), 5000);
  return new HostRegistry({
    hosts,
    loadBalanceHosts,
    recheckMillis: split.hostRecheckMillis,
    maxReplicaLagMillis: Number.isFinite(maxLag) ? maxLag : undefined,
    probe: (address, measureLag) =>
      probeHost(Base, clientConfig, address, { timeoutMillis, measureLag }),
  });
}
