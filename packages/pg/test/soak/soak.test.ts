/**
 * docs/reliability.md, "Soak, 5 minutes": a 5-minute soak with periodic faults. Not part of `pnpm test`: run it with
 * `pnpm test:soak` (LIFEGUARD_SOAK_SECONDS changes the length; default 300).
 *
 * A private server behind the fault proxy; 32 callers on a pool of 10 run reads, short
 * transactions, named statements and session changes (each borrower first checks that the last
 * one left the session clean). Every 15 s one fault, in turn: idle backends terminated, every
 * backend terminated, connections reset, a latency spike, a 1 s blackhole, a server restart, the
 * server refusing connections for 2 s, an eviction. Asserted: `total ≤ max` at every sample, no
 * session leak and no "prepared statement" error ever, only the errors a fault explains, service
 * back after every fault, the heap flat, and nothing left on the server after close.
 */
import { DatabaseUnavailableError } from "@lifeguard/core";
import { startFaultProxy, usePrivateServer, withClient } from "@lifeguard/test-fixtures";
import { expect, it, vi } from "vitest";
import { defaultEvictOnSqlState, Pool } from "../../src/index.js";
import { sqlStateClassifier } from "../../src/internal.js";
import {
  backendsNamed,
  errorKind,
  heapAfterGc,
  Load,
  maxSampler,
  percentile,
  type RequestRecord,
  report,
} from "../reliability/support.js";

const SECONDS = Number(process.env["LIFEGUARD_SOAK_SECONDS"] ?? 300);
const FAULT_EVERY_MILLIS = 15_000;
const HEAP_EVERY_MILLIS = 5_000;
const MAX = 10;
const CALLERS = 32;
const NAME = "lg_soak";
const MB = 1024 * 1024;

const server = usePrivateServer();
const isConnectionError = sqlStateClassifier(defaultEvictOnSqlState);

interface Failure {
  start: number;
  end: number;
  kind: string;
  /** An error a fault explains: a connection error, fail-fast, a deadline, shutdown. */
  expected: boolean;
}

function compact(r: RequestRecord): Failure {
  const kind = errorKind(r.error);
  const expected =
    r.error instanceof DatabaseUnavailableError ||
    isConnectionError(r.error) === "connection" ||
    ["LIFEGUARD_ACQUIRE_TIMEOUT", "LIFEGUARD_QUEUE_FULL", "57P01", "57P03"].includes(kind);
  return { start: r.start, end: r.end, kind, expected };
}

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis));

it(
  `soak: ${SECONDS} s of load with a fault every ${FAULT_EVERY_MILLIS / 1000} s`,
  async () => {
    await withClient(server.url, (c) => c.query("create table soak_t (id serial, v int)"));
    const proxy = await startFaultProxy(server.url);
    const pool = new Pool({
      connectionString: proxy.url(server.url),
      application_name: NAME,
      max: MAX,
      connectionTimeoutMillis: 3000,
      maxWaiting: 200,
    });
    pool.on("error", () => undefined);
    const total = maxSampler(() => pool.totalCount, 5);

    const leaks: string[] = [];
    const statementErrors: string[] = [];
    let n = 0;
    /** One request: what a web handler would do, chosen by turn. */
    async function request(): Promise<void> {
      const kind = n++ % 5;
      if (kind === 0) {
        await pool.query("select pg_sleep(0.001)");
        return;
      }
      const client = await pool.connect();
      let error: unknown;
      try {
        // the previous borrower of this session must have left it clean
        const { rows } = await client.query(
          "select current_setting('statement_timeout') as st, current_setting('app.tenant', true) as t, (select count(*)::int from pg_prepared_statements where from_sql) as p",
        );
        const row = rows[0] as { st: string; t: string | null; p: number };
        if (row.st !== "0" || (row.t ?? "") !== "" || row.p !== 0) leaks.push(JSON.stringify(row));
        if (kind === 1) {
          await client.query("begin");
          await client.query("insert into soak_t (v) values ($1)", [n]);
          await client.query("commit");
        } else if (kind === 2) {
          await client.query({ name: "soak_named", text: "select $1::int as v", values: [n] });
        } else if (kind === 3) {
          await client.query("set statement_timeout = 5000");
          await client.query(`select set_config('app.tenant', '${n}', false)`);
          await client.query("prepare soak_p as select 1");
        } else {
          await client.query("begin");
          await client.query("select count(*) from soak_t"); // left open: rolled back on release
        }
      } catch (caught) {
        error = caught;
        const message = (caught as Error).message ?? "";
        if (/prepared statement/.test(message)) statementErrors.push(message);
        throw caught;
      } finally {
        client.release(error instanceof Error ? error : undefined);
      }
    }

    // the harness keeps a few numbers per failed request and nothing per success (no error
    // objects, no records): its own memory must not grow with the run
    const failures: Failure[] = [];
    const load = new Load(
      CALLERS,
      request,
      async (error) => {
        const wait = error instanceof DatabaseUnavailableError ? error.retryInMillis : 1;
        await sleep(Math.max(1, wait));
      },
      (r) => {
        if (r.error !== undefined) failures.push(compact(r));
      },
      // think time between requests: the pool is busy but not always saturated, so connections
      // also go idle and get pre-pinged
      { retain: "none", pause: () => sleep(Math.floor(Math.random() * 40)) },
    );

    type Fault = { name: string; run: () => Promise<void> };
    const terminate = (where: string) =>
      withClient(server.url, (c) =>
        c.query(
          `select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 ${where}`,
          [NAME],
        ),
      );
    const faults: Fault[] = [
      {
        name: "idle backends terminated",
        run: () => terminate("and state = 'idle'").then(() => undefined),
      },
      { name: "every backend terminated", run: () => terminate("").then(() => undefined) },
      { name: "connections reset (cut)", run: async () => proxy.cut() },
      {
        name: "latency spike 50 ms for 3 s",
        run: async () => {
          proxy.latency(50);
          await sleep(3000);
          proxy.latency(0);
        },
      },
      {
        name: "blackhole 1 s",
        run: async () => {
          await proxy.blackhole();
          await sleep(1000);
          proxy.cut(); // the partition did not keep the connections
          await proxy.pass();
        },
      },
      { name: "server restart", run: () => server.restart() },
      {
        name: "server refuses for 2 s",
        run: async () => {
          await proxy.refuse();
          proxy.cut();
          await sleep(2000);
          await proxy.pass();
        },
      },
      { name: "evict all", run: async () => void pool.evict() },
    ];

    const started = performance.now();
    const end = started + SECONDS * 1000;
    const heap: { atSeconds: number; mb: number }[] = [];
    const windows: { name: string; from: number; to: number }[] = [];
    const recovered: { name: string; afterMillis: number | undefined }[] = [];
    let nextFault = started + FAULT_EVERY_MILLIS;
    let nextHeap = started + 10_000; // after warm-up
    let f = 0;
    try {
      while (performance.now() < end) {
        const now = performance.now();
        if (now >= nextHeap) {
          heap.push({ atSeconds: Math.round((now - started) / 1000), mb: heapAfterGc() / MB });
          nextHeap += HEAP_EVERY_MILLIS;
        }
        if (now >= nextFault && now + 10_000 < end) {
          const fault = faults[f++ % faults.length] as Fault;
          const from = performance.now();
          await fault.run();
          const to = performance.now();
          windows.push({ name: fault.name, from, to });
          // service must come back: a request that started after the fault ended succeeds
          let first: { end: number } | undefined;
          await Promise.race([
            load.until(() => {
              const last = load.lastSuccess;
              if (last !== undefined && last.start >= to) first = last;
              return first !== undefined;
            }),
            sleep(10_000),
          ]);
          recovered.push({
            name: fault.name,
            afterMillis: first === undefined ? undefined : Math.round(first.end - to),
          });
          nextFault += FAULT_EVERY_MILLIS;
        }
        await sleep(100);
      }
    } finally {
      await load.stop();
      total.stop();
    }
    const stats = pool.stats();
    await pool.end();
    await proxy.close();

    // only errors a fault explains: within a fault window (plus the pool's own deadlines after it)
    const grace = 3000 + 5000 + 1000; // acquire deadline, backoff cap, slack
    const unexplained = failures.filter(
      (r) => !windows.some((w) => r.end >= w.from && r.start <= w.to + grace),
    );
    const kinds: Record<string, number> = {};
    for (const r of failures) kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
    const unexpectedKinds = failures.filter((r) => !r.expected);
    const firstThird = heap.slice(0, Math.max(1, Math.floor(heap.length / 3))).map((h) => h.mb);
    const lastThird = heap.slice(-Math.max(1, Math.floor(heap.length / 3))).map((h) => h.mb);
    const heapGrowthMb = percentile(lastThird, 50) - percentile(firstThird, 50);

    report("soak", {
      seconds: SECONDS,
      requests: load.successes + failures.length,
      errors: kinds,
      unexplainedErrors: unexplained.length,
      leaks: leaks.length,
      preparedStatementErrors: statementErrors.length,
      maxTotal: total.max(),
      totalSamples: total.samples(),
      recovered,
      heapMb: heap.map((h) => [h.atSeconds, Math.round(h.mb * 10) / 10]),
      heapGrowthMb: Math.round(heapGrowthMb * 10) / 10,
      counters: stats.counters,
      connector: stats.connector,
    });

    expect(windows.length).toBeGreaterThanOrEqual(
      Math.min(faults.length, Math.floor(SECONDS / 15) - 1),
    );
    expect(total.max()).toBeLessThanOrEqual(MAX);
    expect(leaks).toEqual([]);
    expect(statementErrors).toEqual([]);
    expect(unexpectedKinds.map((r) => r.kind)).toEqual([]);
    expect(unexplained.map((r) => r.kind)).toEqual([]);
    for (const r of recovered) expect(r.afterMillis, r.name).toBeDefined();
    expect(heapGrowthMb).toBeLessThan(4); // measured: 0.5 MB over 300 s
    await vi.waitFor(async () => expect(await backendsNamed(server.url, NAME)).toBe(0));
  },
  (SECONDS + 180) * 1000,
);
