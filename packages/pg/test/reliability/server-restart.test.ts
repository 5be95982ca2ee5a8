/**
 * docs/reliability.md, "Server restart under load": a private server restarts under load at concurrency 64 on a pool of 10. Errors only
 * for work in flight during the outage; service again soon after the server accepts (measured
 * against the 1 s target, not asserted); `total ≤ max` at every sample.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { channelNames, DatabaseUnavailableError } from "@lifeguard/core";
import { backoffDelay } from "@lifeguard/core/internal";
import { usePrivateServer } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { defaultEvictOnSqlState, Pool } from "../../src/index.js";
import { sqlStateClassifier } from "../../src/internal.js";
import {
  backendsNamed,
  countingClient,
  Load,
  maxSampler,
  type RequestRecord,
  report,
  tally,
} from "./support.js";

const server = usePrivateServer();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const MAX = 10;
const CONCURRENCY = 64;
const BEFORE = 2000; // successful requests before the restart
const AFTER = 2000; // and after the server accepts again
const QUERY = "select 1";
const isConnectionError = sqlStateClassifier(defaultEvictOnSqlState);

/** Sequential connects the backoff allows within `millis`, on its fastest schedule (r = 0). */
function attemptsWithin(millis: number): number {
  let at = 0;
  for (let n = 1; ; n++) {
    at += backoffDelay(n, 0);
    if (at > millis) return n;
  }
}

interface Timeline {
  stopAt: number;
  acceptingAt: number;
  connectAttemptsWhileDown: number;
  records: RequestRecord[];
}

/** Runs the load, restarts the server in the middle, and returns what every request saw. */
async function restartUnderLoad(
  pool: pg.Pool,
  attempts: () => number,
  afterError: (error: unknown) => Promise<void>,
  sample: () => void,
): Promise<Timeline> {
  const load = new Load(CONCURRENCY, () => pool.query(QUERY), afterError, sample);
  cleanups.push(() => load.stop());
  await load.until(() => load.successesSince(0) >= BEFORE);

  const stopAt = performance.now();
  const attemptsBefore = attempts();
  await server.restart(); // fast shutdown (in-flight queries are cut), then start on the same port
  const acceptingAt = performance.now();
  const connectAttemptsWhileDown = attempts() - attemptsBefore;

  await load.until(() => load.successesSince(acceptingAt) >= AFTER);
  await load.stop();
  return { stopAt, acceptingAt, connectAttemptsWhileDown, records: load.records };
}

function summarize(t: Timeline) {
  const failed = t.records.filter((r) => r.error !== undefined);
  const startedAfterAccepting = t.records.filter((r) => r.start >= t.acceptingAt);
  const firstSuccess = startedAfterAccepting.find((r) => r.error === undefined);
  return {
    failed,
    inFlightAtStop: t.records.filter((r) => r.start < t.stopAt && r.end >= t.stopAt),
    failedAfterAccepting: startedAfterAccepting.filter((r) => r.error !== undefined),
    downMillis: Math.round(t.acceptingAt - t.stopAt),
    // when the first request that started after the server accepted again completed
    recoveryMillis:
      firstSuccess === undefined ? undefined : Math.round(firstSuccess.end - t.acceptingAt),
    // the first request to succeed after the server accepted again, whenever it started
    firstServedMillis: Math.round(
      Math.min(
        ...t.records
          .filter((r) => r.error === undefined && r.end >= t.acceptingAt)
          .map((r) => r.end),
      ) - t.acceptingAt,
    ),
  };
}

describe("server restart under load (concurrency 64, pool of 10)", () => {
  it("Lifeguard: connection errors only for work in flight, fail-fast while down, then 0 errors; total ≤ max throughout", async () => {
    const { Client, attempts } = countingClient();
    const name = "lg_rel_restart";
    const pool = new Pool({
      connectionString: server.url,
      max: MAX,
      Client,
      application_name: name,
    });
    cleanups.push(() => pool.end());
    const total = maxSampler(() => pool.totalCount);
    cleanups.push(async () => total.stop());
    let circuitClosedAt: number | undefined;
    const onClose = () => {
      circuitClosedAt = performance.now();
    };
    subscribe(channelNames.circuitClose, onClose);
    cleanups.push(async () => unsubscribe(channelNames.circuitClose, onClose));

    // the application's retry policy: a fail-fast error says when the pool will try again
    const t = await restartUnderLoad(
      pool,
      attempts,
      async (error) => {
        const wait = error instanceof DatabaseUnavailableError ? error.retryInMillis : 0;
        await new Promise((resolve) => setTimeout(resolve, Math.max(1, wait)));
      },
      total.sample,
    );
    total.stop();
    const s = summarize(t);

    // every error is either a connection error of work in flight, or the fail-fast error
    for (const r of s.failed) {
      const fastFail = r.error instanceof DatabaseUnavailableError;
      expect(fastFail || isConnectionError(r.error) === "connection").toBe(true);
      // a connection error only ever hits a request that started before the server accepted again
      if (!fastFail) expect(r.start).toBeLessThan(t.acceptingAt);
    }
    // once the pool's probe got through, nothing failed at all
    expect(circuitClosedAt).toBeDefined();
    const afterClose = t.records.filter((r) => r.start >= (circuitClosedAt as number));
    expect(afterClose.length).toBeGreaterThan(0);
    expect(afterClose.filter((r) => r.error !== undefined)).toEqual([]);
    // a fail-fast error after the server accepted again happened only before the probe got through
    for (const r of s.failedAfterAccepting) {
      expect(r.error).toBeInstanceOf(DatabaseUnavailableError);
      expect(r.start).toBeLessThan(circuitClosedAt as number);
    }
    // total ≤ max at every sample, and the server agrees after the load
    expect(total.samples()).toBeGreaterThan(BEFORE);
    expect(total.max()).toBeLessThanOrEqual(MAX);
    expect(await backendsNamed(server.url, name)).toBe(pool.totalCount);
    // connect attempts while down followed the backoff: a burst of at most `max` opened together
    // (twice, if one of them got through while the server was shutting down), then one at a time
    // on the schedule, whose fastest form (no jitter) bounds how many fit in the outage
    expect(t.connectAttemptsWhileDown).toBeLessThanOrEqual(
      2 * MAX + attemptsWithin(t.acceptingAt - t.stopAt),
    );

    report("restart-lifeguard", {
      requests: t.records.length,
      downMillis: s.downMillis,
      errors: tally(s.failed.map((r) => r.error)),
      failedInFlightAtStop: s.inFlightAtStop.filter((r) => r.error !== undefined).length,
      failedAfterAccepting: tally(s.failedAfterAccepting.map((r) => r.error)),
      circuitClosedAfterAcceptingMillis: Math.round((circuitClosedAt as number) - t.acceptingAt),
      recoveryMillis: s.recoveryMillis,
      firstServedMillis: s.firstServedMillis,
      connectAttemptsWhileDown: t.connectAttemptsWhileDown,
      maxTotal: total.max(),
      samples: total.samples(),
    });
  });

  it("plain pg.Pool: same workload; no fail-fast, one connect attempt per caller while down", async () => {
    const { Client, attempts } = countingClient();
    const pool = new pg.Pool({ connectionString: server.url, max: MAX, Client });
    const idleErrors: Error[] = [];
    pool.on("error", (error) => idleErrors.push(error)); // or the process dies
    cleanups.push(() => pool.end());
    const total = maxSampler(() => pool.totalCount);
    cleanups.push(async () => total.stop());

    // the same policy, with pg's first backoff step since pg gives no hint
    const t = await restartUnderLoad(
      pool,
      attempts,
      () => new Promise((resolve) => setTimeout(resolve, 10)),
      total.sample,
    );
    total.stop();
    const s = summarize(t);

    for (const r of s.failed) expect(isConnectionError(r.error)).toBe("connection");
    expect(total.max()).toBeLessThanOrEqual(MAX);
    // no backoff: more connect attempts during the outage than the schedule Lifeguard keeps allows
    expect(t.connectAttemptsWhileDown).toBeGreaterThan(
      2 * MAX + attemptsWithin(t.acceptingAt - t.stopAt),
    );
    report("restart-pg", {
      requests: t.records.length,
      downMillis: s.downMillis,
      errors: tally(s.failed.map((r) => r.error)),
      failedInFlightAtStop: s.inFlightAtStop.filter((r) => r.error !== undefined).length,
      failedAfterAccepting: tally(s.failedAfterAccepting.map((r) => r.error)),
      recoveryMillis: s.recoveryMillis,
      firstServedMillis: s.firstServedMillis,
      connectAttemptsWhileDown: t.connectAttemptsWhileDown,
      idleErrorEvents: idleErrors.length,
      maxTotal: total.max(),
    });
  });
});
