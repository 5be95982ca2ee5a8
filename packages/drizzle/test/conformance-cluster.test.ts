/**
 * The conformance suite through Drizzle in cluster mode: `drizzle(cluster.writer)` of a `Cluster`
 * whose host list names the suite's server twice (by IP and as `localhost`), so every connection is
 * routed by the cluster machinery (host choice, role check at connect).
 */
import { ManualClock } from "@lifeguard/core";
import { Cluster } from "@lifeguard/pg";
import { lifeguardExpectations, runConformanceSuite } from "@lifeguard/test-fixtures";
import { drizzle } from "../src/index.js";
import { drizzleSubject, lifeguardAcquireTimeout } from "./subject.js";

/** `postgres://u@127.0.0.1:5555/db?...` → `postgres://u@127.0.0.1:5555,localhost:5555/db?...` */
function twoHosts(url: string): string {
  const u = new URL(url);
  return url.replace(`@${u.host}/`, `@${u.host},localhost:${u.port}/`);
}

runConformanceSuite(
  "drizzle on Lifeguard, cluster mode (cluster.writer)",
  ({ url, max, acquireTimeoutMillis }) => {
    const clock = acquireTimeoutMillis === undefined ? undefined : new ManualClock();
    const cluster = new Cluster({
      connectionString: twoHosts(url),
      max,
      ...(acquireTimeoutMillis === undefined ? {} : { acquireTimeoutMillis }),
      ...(clock === undefined ? {} : { clock }),
    });
    return drizzleSubject(drizzle(cluster.writer), {
      close: () => cluster.end(),
      ...(clock === undefined ? {} : { advanceTime: (millis: number) => clock.advance(millis) }),
      expectations: lifeguardExpectations(lifeguardAcquireTimeout),
    });
  },
);
