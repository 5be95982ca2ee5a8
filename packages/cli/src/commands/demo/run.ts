import pg from "pg";
import { prismaSubject } from "./prisma-subject.js";
import type { DemoSubject } from "./subjects.js";
import { demoSubjects } from "./subjects.js";

/** What happened to one pool during the demo. */
export interface SubjectResult {
  readonly name: string;
  readonly lifeguard: boolean;
  /** Operations that succeeded. */
  readonly queries: number;
  /** Errors that reached the application for any reason other than its own query being killed. */
  readonly errors: number;
  /** Queries killed while running (SQLSTATE 57P01): unavoidable, the same for every pool. */
  readonly killedInFlight: number;
  /** Requests that found another request's session state (`app.tenant`) on their connection. */
  readonly sessionsLeaked: number;
  /** 'error' events the pool emitted (pg.Pool: each kills an application without a listener). */
  readonly poolErrorEvents: number;
  readonly queriesPerSecond: number;
  /** 99th percentile of the time requests waited for a connection, in ms. */
  readonly p99WaitMillis: number;
  /** A few of the errors, for the report. */
  readonly sampleErrors: readonly string[];
}

export interface DemoResult {
  readonly durationMillis: number;
  readonly chaos: { readonly idleKilled: number; readonly busyKilled: number };
  readonly subjects: readonly SubjectResult[];
  /** True when no Lifeguard pool let an error or a session leak through. */
  readonly lifeguardLostNothing: boolean;
}

export interface DemoOptions {
  readonly url: string;
  readonly durationMillis: number;
  /** Concurrent requests per pool (each pool has 5 connections). */
  readonly concurrency?: number;
  /** A generated Prisma Client module: adds Prisma on Lifeguard to the comparison. */
  readonly prismaClient?: string;
  /** Called about four times a second with the running totals. */
  readonly onProgress?: (progress: DemoProgress) => void;
}

export interface DemoProgress {
  readonly elapsedMillis: number;
  readonly durationMillis: number;
  readonly chaos: DemoResult["chaos"];
  readonly subjects: readonly (Omit<SubjectResult, "p99WaitMillis" | "sampleErrors"> & {
    readonly pool: { total: number; idle: number };
  })[];
}

const ACCOUNTS = 100;
const IN_FLIGHT = "57P01"; // admin_shutdown: the backend was terminated while running this query

class Tally {
  queries = 0;
  errors = 0;
  killedInFlight = 0;
  sessionsLeaked = 0;
  readonly samples = new Set<string>();

  failed(error: unknown): void {
    if (killedMidQuery(error)) this.killedInFlight++;
    else {
      this.errors++;
      if (this.samples.size < 3) this.samples.add(messageOf(error));
    }
  }
}

/** Runs the workload through every pool while killing backends; resolves with the comparison. */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const concurrency = options.concurrency ?? 8;
  // the optional Prisma client first: if it cannot be loaded, nothing has been opened yet
  const prisma =
    options.prismaClient === undefined
      ? undefined
      : await prismaSubject(options.url, options.prismaClient);
  const admin = new pg.Client({
    connectionString: options.url,
    application_name: "lifeguard-demo-chaos",
  });
  admin.on("error", () => undefined);
  let subjects: DemoSubject[] = prisma === undefined ? [] : [prisma];
  try {
    await admin.connect();
    await admin.query(
      "create table if not exists demo_accounts (id int primary key, balance int not null)",
    );
    await admin.query(
      "insert into demo_accounts select g, 1000 from generate_series(1, $1) g on conflict (id) do nothing",
      [ACCOUNTS],
    );
    subjects = [...demoSubjects(options.url), ...subjects];
  } catch (error) {
    for (const subject of subjects) await subject.close().catch(() => undefined);
    await admin.end().catch(() => undefined);
    throw error;
  }
  const tallies = subjects.map(() => new Tally());
  const chaos = { idleKilled: 0, busyKilled: 0 };
  const started = performance.now();
  const stopAt = started + options.durationMillis;
  const running = () => performance.now() < stopAt;

  const progress = (): DemoProgress => {
    const elapsed = Math.min(performance.now() - started, options.durationMillis);
    return {
      elapsedMillis: elapsed,
      durationMillis: options.durationMillis,
      chaos: { ...chaos },
      subjects: subjects.map((s, i) => summary(s, tallies[i] as Tally, elapsed)),
    };
  };
  const ticker = setInterval(() => options.onProgress?.(progress()), 250);

  try {
    await Promise.all([
      ...subjects.flatMap((subject, i) => [
        ...Array.from({ length: concurrency }, (_, w) =>
          worker(subject, tallies[i] as Tally, w, running),
        ),
        slowWorker(subject, tallies[i] as Tally, running),
      ]),
      chaosLoop(admin, chaos, running),
    ]);
  } finally {
    clearInterval(ticker);
  }
  const elapsed = performance.now() - started;
  options.onProgress?.(progress());
  const results = subjects.map((subject, i) => {
    const tally = tallies[i] as Tally;
    return {
      ...summary(subject, tally, elapsed),
      p99WaitMillis: percentile(subject.waits, 0.99),
      sampleErrors: [...tally.samples],
    };
  });
  for (const subject of subjects) await subject.close().catch(() => undefined);
  await admin.end().catch(() => undefined);
  return {
    durationMillis: elapsed,
    chaos,
    subjects: results.map(({ pool: _pool, ...rest }) => rest),
    lifeguardLostNothing: results.every(
      (r) => !r.lifeguard || (r.errors === 0 && r.sessionsLeaked === 0),
    ),
  };
}

function summary(subject: DemoSubject, tally: Tally, elapsedMillis: number) {
  return {
    name: subject.name,
    lifeguard: subject.lifeguard,
    queries: tally.queries,
    errors: tally.errors,
    killedInFlight: tally.killedInFlight,
    sessionsLeaked: tally.sessionsLeaked,
    poolErrorEvents: subject.poolErrors.count,
    queriesPerSecond: elapsedMillis > 0 ? tally.queries / (elapsedMillis / 1000) : 0,
    pool: subject.pool(),
  };
}

/** A request mix: reads, transfers, careless requests that set session state, and requests that check for it. */
async function worker(
  subject: DemoSubject,
  tally: Tally,
  id: number,
  running: () => boolean,
): Promise<void> {
  let n = id;
  while (running()) {
    n++;
    const roll = (n * 7919) % 100;
    try {
      if (roll < 55) await subject.read((n % ACCOUNTS) + 1);
      else if (roll < 75) {
        // always lock the lower id first: concurrent transfers never deadlock
        const a = (n % (ACCOUNTS - 1)) + 1;
        await subject.transfer(a, a + 1);
      } else if (roll < 85) await subject.leak(`tenant-${n}`);
      else {
        const tenant = await subject.probe();
        if (tenant !== "") tally.sessionsLeaked++;
      }
      tally.queries++;
    } catch (error) {
      tally.failed(error);
    }
    // a moment of think time, as real traffic has: some connections sit idle (and get killed there)
    await new Promise((resolve) => setTimeout(resolve, n % 50));
  }
}

/** Slow queries, one at a time: the ones chaos kills mid-flight. */
async function slowWorker(
  subject: DemoSubject,
  tally: Tally,
  running: () => boolean,
): Promise<void> {
  while (running()) {
    try {
      await subject.slow();
      tally.queries++;
    } catch (error) {
      tally.failed(error);
    }
  }
}

/**
 * Every second, alternately: terminate every backend of every pool that has been idle for 100 ms,
 * or every busy one running the slow query.
 */
async function chaosLoop(
  admin: pg.Client,
  chaos: { idleKilled: number; busyKilled: number },
  running: () => boolean,
): Promise<void> {
  let round = 0;
  while (running()) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (!running()) break;
    round++;
    try {
      if (round % 2 === 1) {
        const { rowCount } = await admin.query(
          // idle for 100 ms at least: a backend killed in the instant it is lent fails its next
          // statement like a mid-query kill, which is not the idle case this round stands for
          "select pg_terminate_backend(pid) from pg_stat_activity where application_name like 'lifeguard-demo-%' and application_name <> 'lifeguard-demo-chaos' and state = 'idle' and state_change < now() - interval '100 milliseconds'",
        );
        chaos.idleKilled += rowCount ?? 0;
      } else {
        const { rowCount } = await admin.query(
          "select pg_terminate_backend(pid) from pg_stat_activity where application_name like 'lifeguard-demo-%' and state = 'active' and query like '%pg_sleep%' and pid <> pg_backend_pid()",
        );
        chaos.busyKilled += rowCount ?? 0;
      }
    } catch {
      // the chaos connection itself is never a target; a failed round just does nothing
    }
  }
}

/**
 * The query's own backend was terminated while it ran: SQLSTATE 57P01 somewhere along the error's
 * cause chain (ORMs wrap driver errors; Prisma keeps the server's message but not always its code).
 */
function killedMidQuery(error: unknown): boolean {
  for (let e = error, depth = 0; e !== null && typeof e === "object" && depth < 6; depth++) {
    if ((e as { code?: unknown }).code === IN_FLIGHT) return true;
    const message = (e as { message?: unknown }).message;
    if (
      typeof message === "string" &&
      message.includes("terminating connection due to administrator command")
    ) {
      return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? (error.message.split("\n")[0] ?? error.name) : String(error);
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}
