/**
 * The conformance suite through Knex in cluster mode: a Knex instance on `cluster.writer` (Knex's
 * two-instance pattern) of a `Cluster` whose host list names the suite's server twice (by IP and
 * as `localhost`), so every connection is routed by the cluster machinery.
 */
import { ManualClock } from "@lifeguard/core";
import { Cluster } from "@lifeguard/pg";
import { lifeguardExpectations, runConformanceSuite } from "@lifeguard/test-fixtures";
import knex from "knex";
import { LifeguardClient } from "../src/index.js";
import { knexSubject, lifeguardAcquireTimeout } from "./subject.js";

/** `postgres://u@127.0.0.1:5555/db?...` → `postgres://u@127.0.0.1:5555,localhost:5555/db?...` */
function twoHosts(url: string): string {
  const u = new URL(url);
  return url.replace(`@${u.host}/`, `@${u.host},localhost:${u.port}/`);
}

runConformanceSuite(
  "knex on Lifeguard, cluster mode (cluster.writer)",
  ({ url, max, acquireTimeoutMillis }) => {
    const clock = acquireTimeoutMillis === undefined ? undefined : new ManualClock();
    const cluster = new Cluster({
      connectionString: twoHosts(url),
      max,
      // with connectionPool the pool's own timeout applies, not Knex's acquireConnectionTimeout
      ...(acquireTimeoutMillis === undefined ? {} : { acquireTimeoutMillis }),
      ...(clock === undefined ? {} : { clock }),
    });
    const db = knex({
      client: LifeguardClient,
      connectionPool: cluster.writer,
    });
    const subject = knexSubject(db, {
      ...(clock === undefined ? {} : { advanceTime: (millis: number) => clock.advance(millis) }),
      expectations: lifeguardExpectations(lifeguardAcquireTimeout),
    });
    return {
      ...subject,
      close: async () => {
        await db.destroy();
        await cluster.end();
      },
    };
  },
);
