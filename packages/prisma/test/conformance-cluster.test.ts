/**
 * The conformance suite through Prisma in cluster mode: PrismaLifeguard on `cluster.writer` of a
 * `Cluster` whose host list names the suite's server twice (by IP and as `localhost`), so every
 * connection is routed by the cluster machinery.
 */
import { ManualClock } from "@lifeguard/core";
import { Cluster } from "@lifeguard/pg";
import { lifeguardExpectations, runConformanceSuite } from "@lifeguard/test-fixtures";
import { loadPrismaClient } from "@lifeguard/test-fixtures/prisma";
import { PrismaLifeguard } from "../src/index.js";
import { lifeguardAcquireTimeout, prismaSubject, StatementNames } from "./subject.js";

/** `postgres://u@127.0.0.1:5555/db?...` → `postgres://u@127.0.0.1:5555,localhost:5555/db?...` */
function twoHosts(url: string): string {
  const u = new URL(url);
  return url.replace(`@${u.host}/`, `@${u.host},localhost:${u.port}/`);
}

runConformanceSuite(
  "prisma on Lifeguard, cluster mode (cluster.writer)",
  async ({ url, max, acquireTimeoutMillis }) => {
    const { PrismaClient } = await loadPrismaClient();
    const clock = acquireTimeoutMillis === undefined ? undefined : new ManualClock();
    const cluster = new Cluster({
      connectionString: twoHosts(url),
      max,
      ...(acquireTimeoutMillis === undefined
        ? {}
        : { connectionTimeoutMillis: acquireTimeoutMillis }),
      ...(clock === undefined ? {} : { clock }),
    });
    const names = new StatementNames();
    const prisma = new PrismaClient({
      adapter: new PrismaLifeguard(cluster.writer, { statementNameGenerator: names.generate }),
    });
    return prismaSubject(prisma, {
      names,
      close: async () => {
        await prisma.$disconnect();
        await cluster.end();
      },
      ...(clock === undefined ? {} : { advanceTime: (millis: number) => clock.advance(millis) }),
      expectations: lifeguardExpectations(lifeguardAcquireTimeout),
    });
  },
);
