/**
 * The harness's replication cluster: `@lifeguard/embedded`'s, on the PostgreSQL build the run asks
 * for (LIFEGUARD_PG_MAJOR / LIFEGUARD_PG_BIN, as every other server). docs/testing.md.
 */
import { afterAll, beforeAll } from "vitest";
import {
  type ReplicationClusterOptions as EmbeddedReplicationOptions,
  type ReplicationCluster,
  startReplicationCluster as startEmbeddedReplication,
} from "./embedded-server.js";
import { binDirFromEnv, serverBinDir } from "./server-major.js";

export interface ReplicationClusterOptions extends Omit<EmbeddedReplicationOptions, "binDir"> {
  /**
   * The PostgreSQL major to run (its binaries package must be installed, as for
   * LIFEGUARD_PG_MAJOR). Default: LIFEGUARD_PG_MAJOR / LIFEGUARD_PG_BIN, else the default build.
   */
  major?: number;
}

/** A primary and `standbys` streaming standbys (default 1) on the run's PostgreSQL build. */
export async function startReplicationCluster(
  options: ReplicationClusterOptions = {},
): Promise<ReplicationCluster> {
  const { major, ...rest } = options;
  const binDir =
    major === undefined
      ? binDirFromEnv()
      : serverBinDir({ ...process.env, LIFEGUARD_PG_BIN: undefined }, major);
  return await startEmbeddedReplication(binDir === undefined ? rest : { ...rest, binDir });
}

/**
 * `startReplicationCluster()` in `beforeAll`, `close()` in `afterAll`; the returned object forwards
 * to the cluster (valid inside tests and hooks).
 */
export function useReplicationCluster(options?: ReplicationClusterOptions): ReplicationCluster {
  let cluster: ReplicationCluster | undefined;
  beforeAll(async () => {
    cluster = await startReplicationCluster(options);
  }, 120_000);
  afterAll(async () => {
    await cluster?.close();
    cluster = undefined;
  });
  const current = (): ReplicationCluster => {
    if (cluster === undefined) {
      throw new Error(
        "useReplicationCluster(): the cluster exists only inside tests and hooks that run after its beforeAll",
      );
    }
    return cluster;
  };
  return {
    get primary() {
      return current().primary;
    },
    get standbys() {
      return current().standbys;
    },
    get nodes() {
      return current().nodes;
    },
    multiHostUrl: (params) => current().multiHostUrl(params),
    waitForReplication: () => current().waitForReplication(),
    close: () => current().close(),
  };
}
