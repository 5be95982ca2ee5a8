import { getHeapSpaceStatistics } from "node:v8";
import { Pool as LifeguardPool } from "@lifeguard/pg";
import pg from "pg";
import postgres from "postgres";
import { packageVersion } from "../../framework/environment.js";
import { collectGarbage } from "../../framework/gc.js";
import type { Contender, Sample, Suite } from "../../framework/types.js";
import type { DbState } from "../db/shared.js";
import { prefillPool, setupDb } from "../db/shared.js";

interface MemoryParams {
  /** Idle connections held open at once. */
  readonly connections: number;
}

type MemoryContender = Contender<MemoryParams, DbState>;

const KB = 1024;

/**
 * What each measurement reads, after two full collections with the event loop settled in between:
 * the heap's used bytes without its code spaces (machine code the JIT happens to install during a
 * sample is not per connection, and it made the first rounds ~4 KB per connection heavier), and
 * `external`.
 */
async function settledHeap(): Promise<{ heap: number; external: number }> {
  for (let i = 0; i < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    collectGarbage();
  }
  let heap = 0;
  for (const space of getHeapSpaceStatistics()) {
    if (!space.space_name.includes("code")) heap += space.space_used_size;
  }
  return { heap, external: process.memoryUsage().external };
}

let nextTag = 0;
/** A per-sample `application_name`, so the count check sees this sample's backends only. */
function applicationName(): string {
  return `lifeguard-bench-idle-${process.pid}-${++nextTag}`;
}

/** Fails the sample unless exactly `expected` backends with this application_name are open. */
async function checkOpen(url: string, name: string, expected: number): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ n: string }>(
      "select count(*) as n from pg_stat_activity where application_name = $1",
      [name],
    );
    const open = Number(rows[0]?.n);
    if (open !== expected) {
      throw new Error(
        `expected ${expected} open connections named ${name}, the server has ${open}`,
      );
    }
  } finally {
    await admin.end();
  }
}

/**
 * One sample: the heap before anything exists, after the pool object is built (no connection yet),
 * and with `n` connections open and idle; per connection = (with n − before anything) ÷ n.
 */
async function measure(
  n: number,
  build: () => unknown,
  open: (n: number) => Promise<void>,
  check: () => Promise<void>,
  close: () => Promise<void>,
): Promise<Sample> {
  const before = await settledHeap();
  build();
  const built = await settledHeap();
  try {
    await open(n);
    const idle = await settledHeap();
    await check();
    return {
      heapPerConnection: (idle.heap - before.heap) / n / KB,
      marginalPerConnection: (idle.heap - built.heap) / n / KB,
      externalPerConnection: (idle.external - before.external) / n / KB,
      emptyPool: (built.heap - before.heap) / KB,
    };
  } finally {
    await close();
  }
}

const pgClient: MemoryContender = {
  id: "pg-client",
  label: "pg.Client (no pool)",
  version: `pg ${packageVersion("pg")}`,
  note: "_n_ `new pg.Client({ connectionString })`, each `connect()`ed, kept in an array.",
  async run({ connections }, { state }) {
    const name = applicationName();
    let clients: pg.Client[] = [];
    return measure(
      connections,
      () => undefined,
      async (n) => {
        clients = Array.from(
          { length: n },
          () => new pg.Client({ connectionString: state.url, application_name: name }),
        );
        await Promise.all(clients.map((client) => client.connect()));
      },
      () => checkOpen(state.url, name, connections),
      async () => {
        await Promise.all(clients.map((client) => client.end()));
      },
    );
  },
};

const pgPool: MemoryContender = {
  id: "pg-pool",
  label: "pg.Pool",
  version: `pg ${packageVersion("pg")}`,
  note: "`new pg.Pool({ connectionString, max: n })` with pg's defaults; _n_ clients checked out at once, then all released (idle, each with its idle timer).",
  async run({ connections }, { state }) {
    const name = applicationName();
    let pool: pg.Pool | undefined;
    return measure(
      connections,
      () => {
        pool = new pg.Pool({
          connectionString: state.url,
          max: connections,
          application_name: name,
        });
      },
      (n) => prefillPool(pool as pg.Pool, n),
      () => checkOpen(state.url, name, connections),
      async () => {
        await pool?.end();
      },
    );
  },
};

const lifeguard: MemoryContender = {
  id: "lifeguard",
  label: "Lifeguard",
  version: `${packageVersion("@lifeguard/pg")} (working tree)`,
  note: "`new Pool({ connectionString, max: n })` from `@lifeguard/pg` with its defaults; _n_ clients checked out at once, then all released.",
  async run({ connections }, { state }) {
    const name = applicationName();
    let pool: LifeguardPool | undefined;
    return measure(
      connections,
      () => {
        pool = new LifeguardPool({
          connectionString: state.url,
          max: connections,
          application_name: name,
        });
      },
      (n) => prefillPool(pool as LifeguardPool, n),
      () => checkOpen(state.url, name, connections),
      async () => {
        await pool?.end();
      },
    );
  },
};

const postgresJs: MemoryContender = {
  id: "postgres-js",
  label: "postgres.js",
  version: packageVersion("postgres"),
  note:
    "`postgres(url, { max: n })` with its defaults; _n_ connections reserved at once (`sql.reserve()`), " +
    "then all released. postgres.js builds its _n_ connection objects with the pool, so part of the per-connection cost is in “empty pool”.",
  async run({ connections }, { state }) {
    const name = applicationName();
    let sql: postgres.Sql | undefined;
    return measure(
      connections,
      () => {
        sql = postgres(state.url, {
          max: connections,
          connection: { application_name: name },
          onnotice: () => {},
        });
      },
      async (n) => {
        const s = sql as postgres.Sql;
        const reserved = await Promise.all(Array.from({ length: n }, () => s.reserve()));
        for (const connection of reserved) connection.release();
      },
      () => checkOpen(state.url, name, connections),
      async () => {
        await sql?.end({ timeout: 5 });
      },
    );
  },
};

/** While warming up, each contender measures this many times (all discarded) so its code is warm. */
const WARMUP_SAMPLES = 3;

function withWarmup(contender: MemoryContender): MemoryContender {
  return {
    ...contender,
    async run(params, context) {
      if (context.warmup) {
        for (let i = 1; i < WARMUP_SAMPLES; i++) await contender.run(params, context);
      }
      return contender.run(params, context);
    },
  };
}

const N = 50;

/**
 * Target: client heap per idle connection at most a bare pg.Client's + 1 KB. A bare client measures
 * 6.7 KB with pg 8.23 (the pg.Client contender below), so ≤ 7.7 KB.
 */
export const idleMemorySuite: Suite<MemoryParams, DbState> = {
  name: "idle-memory",
  title: "Memory per idle connection",
  description: `
What holding a connection costs the application's heap. In each sample, in the contender's own
process: two full garbage collections (\`--expose-gc\`), read the heap's used bytes
(\`v8.getHeapSpaceStatistics()\`, all spaces but the code spaces: machine code the JIT installs
during a sample is not a per-connection cost);
build the pool; open ${N} connections at once and let them all go idle; two full collections again
and read it again. **heap per connection** is the difference ÷ ${N}: everything the driver and the
pool keep per connection (client objects, parsers, buffers' JS wrappers, timers, the pool's own
bookkeeping) plus a ${N}th of the pool object itself, which is also shown alone as **empty pool**
(the heap it takes before its first connection); **pool object excluded** is the growth from the
built pool to ${N} idle connections ÷ ${N} (for postgres.js, which builds its connection objects with
the pool, that leaves part of each connection out). **external per connection** is the same for
\`external\` memory (buffers outside the JS heap; Node's sockets' own native memory is in neither).
Each sample checks in \`pg_stat_activity\` that exactly ${N} connections were open. Each contender
warms up with ${WARMUP_SAMPLES} discarded samples. 1 KB = 1024 bytes.
The figure is a heap measurement, so it hardly depends on the machine's load.`,
  cases: [{ id: `n${N}`, label: `${N} idle connections`, params: { connections: N } }],
  contenders: [lifeguard, pgPool, pgClient, postgresJs].map(withWarmup),
  metrics: [
    {
      key: "heapPerConnection",
      label: "heap per connection",
      better: "lower",
      format: "fixed",
      decimals: 2,
      unit: " KB",
    },
    {
      key: "marginalPerConnection",
      label: "heap per connection, pool object excluded",
      better: "lower",
      format: "fixed",
      decimals: 2,
      unit: " KB",
    },
    {
      key: "externalPerConnection",
      label: "external per connection",
      better: "lower",
      format: "fixed",
      decimals: 2,
      unit: " KB",
    },
    {
      key: "emptyPool",
      label: "empty pool",
      better: "lower",
      format: "fixed",
      decimals: 1,
      unit: " KB",
    },
  ],
  subject: "lifeguard",
  targets: [{ max: 7.7, label: "≤ 7.7 KB (a bare pg.Client + 1 KB)" }],
  chart: { title: `Heap per idle connection (${N} connections open)` },
  timing: { full: { rounds: 7 }, quick: { rounds: 3 } },
  setup: setupDb,
};
