import { setTimeout as sleep } from "node:timers/promises";
import { Pool as LifeguardPool } from "@lifeguard/pg";
import pg from "pg";
import { packageVersion } from "../../framework/environment.js";
import type { Contender, Sample, Suite } from "../../framework/types.js";
import type { DbState } from "../db/shared.js";
import { POOL_SIZE, prefillPool, setupDb } from "../db/shared.js";

interface RecoveryParams {
  /** `idle`: every connection idle when the backends die; `busy`: under a closed-loop load. */
  readonly load: "idle" | "busy";
}

type RecoveryContender = Contender<RecoveryParams, DbState>;

/** Successful queries that count as "recovered". */
const RECOVERED_AFTER = 100;
/** Loops issuing queries (as many as connections). */
const LOOPS = POOL_SIZE;
/** How long the busy case runs its load before the kill. */
const LOAD_BEFORE_KILL_MILLIS = 100;
/** A pool that has not recovered by then fails the sample. */
const GIVE_UP_MILLIS = 30_000;

let nextTag = 0;
function applicationName(): string {
  return `lifeguard-bench-recovery-${process.pid}-${++nextTag}`;
}

/** What the loops share during one sample. */
interface Run {
  /** `performance.now()` when the kill was sent: errors count from then on. Infinity before. */
  killSentAt: number;
  /** `performance.now()` when the kill returned: only queries started after it can count as recovered. */
  killedAt: number;
  /** Successful queries that started after the kill. */
  recovered: number;
  /** Failed queries since the kill. */
  errors: number;
  /** When the `RECOVERED_AFTER`th post-kill query succeeded. */
  doneAt: number;
  stop: boolean;
}

function newRun(): Run {
  return {
    killSentAt: Number.POSITIVE_INFINITY,
    killedAt: Number.POSITIVE_INFINITY,
    recovered: 0,
    errors: 0,
    doneAt: 0,
    stop: false,
  };
}

/** One loop per contender (see the core suite): each call site sees one pool class only. */
async function lifeguardLoop(pool: LifeguardPool, run: Run): Promise<void> {
  while (!run.stop) {
    const startedAt = performance.now();
    try {
      await pool.query("select 1");
      if (startedAt >= run.killedAt && ++run.recovered === RECOVERED_AFTER) {
        run.doneAt = performance.now();
        run.stop = true;
      }
    } catch {
      if (performance.now() >= run.killSentAt) run.errors++;
    }
  }
}

async function pgPoolLoop(pool: pg.Pool, run: Run): Promise<void> {
  while (!run.stop) {
    const startedAt = performance.now();
    try {
      await pool.query("select 1");
      if (startedAt >= run.killedAt && ++run.recovered === RECOVERED_AFTER) {
        run.doneAt = performance.now();
        run.stop = true;
      }
    } catch {
      if (performance.now() >= run.killSentAt) run.errors++;
    }
  }
}

/** A pool as the sample drives it: `pg.Pool` or Lifeguard's. */
interface RecoveryPool {
  connect(): Promise<{ release(): void }>;
  end(): Promise<void>;
}

/**
 * One sample: a warm pool (all connections open), then every backend of this pool terminated with
 * `pg_terminate_backend` from an admin connection; the time from the kill to the
 * `RECOVERED_AFTER`th successful query issued after it. `LOOPS` of the contender's `loop` issue
 * the queries. The pool is ended afterwards.
 */
async function measureRecovery<P extends RecoveryPool>(
  pool: P,
  url: string,
  name: string,
  load: RecoveryParams["load"],
  loop: (pool: P, run: Run) => Promise<void>,
): Promise<Sample> {
  const startLoops = (run: Run) => Array.from({ length: LOOPS }, () => loop(pool, run));
  const admin = new pg.Client({ connectionString: url });
  try {
    await admin.connect();
    try {
      await prefillPool(pool);
      const run = newRun();
      let loops: Promise<void>[] = [];
      if (load === "busy") {
        loops = startLoops(run);
        await sleep(LOAD_BEFORE_KILL_MILLIS);
      }
      run.killSentAt = performance.now();
      const { rows } = await admin.query<{ killed: string }>(
        "select count(pg_terminate_backend(pid)) as killed from pg_stat_activity where application_name = $1",
        [name],
      );
      run.killedAt = performance.now();
      const killed = Number(rows[0]?.killed);
      if (killed !== POOL_SIZE) {
        run.stop = true;
        await Promise.all(loops);
        throw new Error(`expected to terminate ${POOL_SIZE} backends named ${name}, got ${killed}`);
      }
      if (load === "idle") loops = startLoops(run);
      const giveUp = setTimeout(() => {
        run.stop = true;
      }, GIVE_UP_MILLIS);
      try {
        await Promise.all(loops);
      } finally {
        clearTimeout(giveUp);
      }
      if (run.recovered < RECOVERED_AFTER) {
        throw new Error(
          `not recovered within ${GIVE_UP_MILLIS} ms: ${run.recovered} successful queries, ${run.errors} errors`,
        );
      }
      return { recoveryMillis: run.doneAt - run.killedAt, errors: run.errors };
    } finally {
      await admin.end();
    }
  } finally {
    await pool.end();
  }
}

const lifeguard: RecoveryContender = {
  id: "lifeguard",
  label: "Lifeguard",
  version: `${packageVersion("@lifeguard/pg")} (working tree)`,
  note: "`new Pool({ connectionString, max: 10 })` from `@lifeguard/pg` with its defaults (pre-ping, connection errors retire older connections); no `'error'` listener (none is needed).",
  async run({ load }, { state }) {
    const name = applicationName();
    const pool = new LifeguardPool({
      connectionString: state.url,
      max: POOL_SIZE,
      application_name: name,
    });
    return measureRecovery(pool, state.url, name, load, lifeguardLoop);
  },
};

const pgPool: RecoveryContender = {
  id: "pg-pool",
  label: "pg.Pool",
  version: `pg ${packageVersion("pg")}`,
  note: "`new pg.Pool({ connectionString, max: 10 })` with pg's defaults, plus the `pool.on('error', …)` listener it needs to survive an idle client's error (without one the process exits).",
  async run({ load }, { state }) {
    const name = applicationName();
    const pool = new pg.Pool({
      connectionString: state.url,
      max: POOL_SIZE,
      application_name: name,
    });
    pool.on("error", () => {});
    return measureRecovery(pool, state.url, name, load, pgPoolLoop);
  },
};

export const recoverySuite: Suite<RecoveryParams, DbState> = {
  name: "recovery",
  title: "Recovery after every backend is killed",
  description: `
How fast a pool serves queries again after the database drops all its connections (a restart, a
failover, an operator's \`pg_terminate_backend\`). Each sample builds a pool of ${POOL_SIZE}, opens all its
connections, and terminates all of them at once from an admin connection
(\`pg_terminate_backend\` on every backend with the pool's \`application_name\`). ${LOOPS} async loops
then run \`select 1\` back to back, a failed query counting as an error and the loop going on at
once. **recovery** is the time from the kill (the admin query's answer) to the ${RECOVERED_AFTER}th
successful query issued after it; **errors** counts the queries that failed from the moment the kill
was sent (each one an error a caller would have seen). Two cases: **idle**, the loops start right after the kill; **busy**,
the loops already run for ${LOAD_BEFORE_KILL_MILLIS} ms when it happens, so queries are in flight.`,
  cases: [
    { id: "idle", label: "killed while idle", params: { load: "idle" } },
    { id: "busy", label: "killed under load", params: { load: "busy" } },
  ],
  contenders: [lifeguard, pgPool],
  metrics: [
    {
      key: "recoveryMillis",
      label: "recovery",
      better: "lower",
      format: "fixed",
      decimals: 1,
      unit: " ms",
    },
    { key: "errors", label: "errors", better: "lower", format: "fixed" },
  ],
  subject: "lifeguard",
  chart: { title: `Time to ${RECOVERED_AFTER} successful queries after every backend is killed` },
  timing: { full: { rounds: 10 }, quick: { rounds: 3 } },
  setup: setupDb,
};
