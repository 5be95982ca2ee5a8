import { type ReplicationCluster, startReplicationCluster } from "@lifeguard/embedded";
import { Cluster } from "@lifeguard/pg";
import pg from "pg";

/**
 * `lifeguard demo --failover`: a primary and a streaming standby (embedded), the same writes and
 * reads through a Lifeguard `Cluster` (one multi-host URL) and through two plain pg.Pools (one
 * on the primary's URL, one on the replica's: pg names one host), then the primary crashes and the
 * standby is promoted, as Patroni or a managed service would do it.
 */

/** One side's figures. */
export interface FailoverFigures {
  readonly pool: string;
  readonly writesOk: number;
  readonly writesFailed: number;
  /** Writes refused as read-only (SQLSTATE 25006): sent to a standby. */
  readonly writesToReadOnlyHost: number;
  /** From the promoted node accepting writes to this side's first successful write; null: none. */
  readonly firstWriteAfterPromotionMillis: number | null;
  readonly writesOkAfterPromotion: number;
  readonly readsOk: number;
  readonly readsFailed: number;
}

export interface FailoverResult {
  /** Since the workload started: the primary stopped (immediate shutdown, a crash). */
  readonly primaryStoppedAtMillis: number;
  /** Since the workload started: the promoted standby accepts writes. */
  readonly promotedAtMillis: number;
  readonly seconds: number;
  readonly pools: readonly FailoverFigures[];
  /** Lifeguard wrote after the promotion and never sent a write to a read-only host. */
  readonly lifeguardRecovered: boolean;
}

export interface FailoverOptions {
  /** About 4 s of workload instead of 8. */
  readonly quick?: boolean;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

/** Requests a second per kind (writes, reads) per pool, arriving on schedule. */
const RATE = 40;

interface Subject {
  readonly name: string;
  write(value: number): Promise<unknown>;
  read(): Promise<unknown>;
  end(): Promise<void>;
}

class Tally {
  writesOk = 0;
  writesFailed = 0;
  writesToReadOnlyHost = 0;
  writesOkAfterPromotion = 0;
  firstWriteAfter: number | null = null;
  readsOk = 0;
  readsFailed = 0;
}

export async function runFailoverDemo(options: FailoverOptions = {}): Promise<FailoverResult> {
  const log = options.log ?? (() => undefined);
  const before = options.quick === true ? 1_500 : 3_000;
  const after = options.quick === true ? 2_500 : 5_000;
  log("Starting a primary and a streaming standby (embedded PostgreSQL)...");
  const cluster = await startReplicationCluster({ standbys: 1 });
  const subjects: Subject[] = [];
  try {
    await setUp(cluster);
    subjects.push(lifeguardSubject(cluster), pgPoolSubject(cluster));
    log(
      `Primary on port ${cluster.primary.port}, standby on ${cluster.standbys[0]?.port}. ${RATE} writes and ${RATE} reads a second through each pool.`,
    );
    const tallies = subjects.map(() => new Tally());
    const pending = new Set<Promise<unknown>>();
    const started = performance.now();
    let promotedAt: number | undefined;
    let tick = 0;
    const timer = setInterval(() => {
      tick++;
      subjects.forEach((subject, i) => {
        const tally = tallies[i] as Tally;
        const write = subject.write(tick).then(
          () => {
            tally.writesOk++;
            if (promotedAt !== undefined) {
              tally.writesOkAfterPromotion++;
              tally.firstWriteAfter ??= performance.now() - started - promotedAt;
            }
          },
          (error: { code?: string }) => {
            tally.writesFailed++;
            if (error?.code === "25006") tally.writesToReadOnlyHost++;
          },
        );
        const read = subject.read().then(
          () => {
            tally.readsOk++;
          },
          () => {
            tally.readsFailed++;
          },
        );
        for (const request of [write, read]) {
          pending.add(request);
          void request.finally(() => pending.delete(request));
        }
      });
    }, 1000 / RATE);
    await sleep(before);
    const primaryStoppedAt = performance.now() - started;
    log("The primary crashes (immediate shutdown); the standby is promoted...");
    await cluster.primary.stop("immediate");
    await cluster.standbys[0]?.promote();
    promotedAt = performance.now() - started;
    log(`The standby accepts writes (${Math.round(promotedAt - primaryStoppedAt)} ms later).`);
    await sleep(after);
    clearInterval(timer);
    // the requests still waiting (Lifeguard's acquire timeout is 4 s) settle before the figures
    await Promise.race([Promise.allSettled([...pending]), sleep(5_000)]);
    const pools = subjects.map((subject, i) => {
      const t = tallies[i] as Tally;
      return {
        pool: subject.name,
        writesOk: t.writesOk,
        writesFailed: t.writesFailed,
        writesToReadOnlyHost: t.writesToReadOnlyHost,
        firstWriteAfterPromotionMillis:
          t.firstWriteAfter === null ? null : Math.max(0, Math.round(t.firstWriteAfter)),
        writesOkAfterPromotion: t.writesOkAfterPromotion,
        readsOk: t.readsOk,
        readsFailed: t.readsFailed,
      };
    });
    const lifeguard = pools[0] as FailoverFigures;
    return {
      primaryStoppedAtMillis: Math.round(primaryStoppedAt),
      promotedAtMillis: Math.round(promotedAt),
      seconds: (before + after) / 1000,
      pools,
      lifeguardRecovered:
        lifeguard.writesOkAfterPromotion > 0 && lifeguard.writesToReadOnlyHost === 0,
    };
  } finally {
    await Promise.allSettled(subjects.map((subject) => subject.end()));
    await cluster.close();
  }
}

async function setUp(cluster: ReplicationCluster): Promise<void> {
  const client = new pg.Client({ connectionString: cluster.primary.url });
  await client.connect();
  try {
    await client.query(
      "create table if not exists demo_failover (id bigserial primary key, pool text, n int)",
    );
  } finally {
    await client.end();
  }
  await cluster.waitForReplication();
}

function lifeguardSubject(cluster: ReplicationCluster): Subject {
  const lifeguard = new Cluster({
    connectionString: cluster.multiHostUrl(),
    max: 5,
    acquireTimeoutMillis: 4_000,
    hostRecheckMillis: 1_000,
  });
  lifeguard.writer.on("error", () => undefined);
  lifeguard.reader.on("error", () => undefined);
  return {
    name: "Lifeguard Cluster (one multi-host URL)",
    write: (n) =>
      lifeguard.writer.query("insert into demo_failover (pool, n) values ('lifeguard', $1)", [n]),
    read: () => lifeguard.reader.query("select count(*) from demo_failover"),
    end: () => lifeguard.end(),
  };
}

function pgPoolSubject(cluster: ReplicationCluster): Subject {
  const standby = cluster.standbys[0] as ReplicationCluster["primary"];
  const writer = new pg.Pool({ connectionString: cluster.primary.url, max: 5 });
  const reader = new pg.Pool({ connectionString: standby.url, max: 5 });
  writer.on("error", () => undefined);
  reader.on("error", () => undefined);
  return {
    name: "pg.Pool (primary URL + replica URL)",
    write: (n) => writer.query("insert into demo_failover (pool, n) values ('pg.Pool', $1)", [n]),
    read: () => reader.query("select count(*) from demo_failover"),
    end: async () => {
      await Promise.allSettled([writer.end(), reader.end()]);
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The result as a table for a terminal. */
export function formatFailover(result: FailoverResult): string {
  const header = [
    "pool",
    "writes ok",
    "failed",
    "to a read-only host",
    "first write after promotion",
    "reads ok",
    "failed",
  ];
  const rows = result.pools.map((p) => [
    p.pool,
    String(p.writesOk),
    String(p.writesFailed),
    String(p.writesToReadOnlyHost),
    p.firstWriteAfterPromotionMillis === null ? "never" : `${p.firstWriteAfterPromotionMillis} ms`,
    String(p.readsOk),
    String(p.readsFailed),
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r[i] as string).length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join("  ");
  return `${[
    "",
    `Failover after ${(result.primaryStoppedAtMillis / 1000).toFixed(1)} s: the primary crashed; the standby accepted writes ${result.promotedAtMillis - result.primaryStoppedAtMillis} ms later. ${result.seconds} s of workload.`,
    "",
    line(header),
    ...rows.map(line),
    "",
    result.lifeguardRecovered
      ? "Lifeguard found the new primary by itself: writes resumed after the promotion, none was sent to a read-only host. pg.Pool keeps writing to the old primary's address until it is reconfigured."
      : "Lifeguard did not recover from the failover (see the figures above).",
  ].join("\n")}\n`;
}
