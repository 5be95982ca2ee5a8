/**
 * Failover under load on a real replication cluster: 64 workers write through cluster.writer and
 * read through cluster.reader while the primary is stopped and standby1 promoted. What must hold:
 * writes reach the new primary, no write is ever sent to a read-only host (no 25006 from any
 * write, every write reports a primary's port), nothing is retried (each write is sent once), and
 * reads are served throughout by standby2. The timings are logged, never asserted (they depend on
 * the machine); docs/reliability.md records them.
 */
import { useReplicationCluster } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterAll, expect, it } from "vitest";
import { Cluster } from "../../src/index.js";

const replication = useReplicationCluster({ standbys: 2 });
let cluster: Cluster | undefined;
afterAll(async () => {
  await cluster?.end();
});

const CONCURRENCY = 64;

it("fails over at concurrency 64: writes move to the promoted standby, none reach a read-only host, reads go on", async () => {
  const [standby1, standby2] = replication.standbys as [
    (typeof replication.standbys)[0],
    (typeof replication.standbys)[0],
  ];
  cluster = new Cluster({
    connectionString: replication.multiHostUrl(),
    max: 16,
    hostRecheckMillis: 1000,
    acquireTimeoutMillis: 5000,
  });
  const c = cluster;
  await c.writer.query("create table failover (id bigserial primary key, worker int, at float8)");
  await replication.waitForReplication();

  const started = performance.now();
  const writes: { at: number; port: number }[] = [];
  const writeErrors: { at: number; code: string }[] = [];
  const reads: { at: number; port: number }[] = [];
  const readErrors: { at: number; code: string }[] = [];
  let running = true;
  const code = (error: unknown) =>
    String((error as { code?: unknown }).code ?? (error as Error).message);
  const worker = async (n: number) => {
    while (running) {
      if (n % 2 === 0) {
        try {
          const { rows } = await c.writer.query(
            "insert into failover (worker, at) values ($1, $2) returning inet_server_port() as port",
            [n, performance.now()],
          );
          writes.push({ at: performance.now(), port: rows[0].port });
        } catch (error) {
          writeErrors.push({ at: performance.now(), code: code(error) });
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      } else {
        try {
          const { rows } = await c.reader.query(
            "select inet_server_port() as port, count(*) from failover",
          );
          reads.push({ at: performance.now(), port: rows[0].port });
        } catch (error) {
          readErrors.push({ at: performance.now(), code: code(error) });
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
    }
  };
  const workers = Array.from({ length: CONCURRENCY }, (_, n) => worker(n));
  await new Promise((resolve) => setTimeout(resolve, 1000));

  // when standby1 starts accepting writes, seen from a connection of its own polling every 10 ms
  let acceptedAt: number | undefined;
  const watcher = new pg.Client({ connectionString: standby1.url });
  watcher.on("error", () => undefined);
  await watcher.connect();
  const watching = (async () => {
    while (acceptedAt === undefined && running) {
      const { rows } = await watcher.query("select pg_is_in_recovery() as r");
      if (rows[0].r === false) acceptedAt = performance.now();
      else await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();

  // the primary goes away, then standby1 is promoted (as Patroni would do it)
  const stoppedAt = performance.now();
  await replication.primary.stop();
  const stopDone = performance.now();
  await standby1.promote();
  const promotedAt = performance.now();
  // run on until the new primary has taken writes for a while
  for (
    let i = 0;
    i < 200 && !writes.some((w) => w.at > promotedAt && w.port === standby1.port);
    i++
  )
    await new Promise((resolve) => setTimeout(resolve, 25));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  running = false;
  await Promise.all(workers);
  await watching;
  await watcher.end();

  const firstNewWrite = writes.find((w) => w.port === standby1.port);
  const lastOldWrite = [...writes].reverse().find((w) => w.port === replication.primary.port);
  const readsDuringOutage = reads.filter(
    (r) => r.at > stopDone && r.at < (firstNewWrite?.at ?? Infinity),
  );
  const errorCodes = (list: { code: string }[]) =>
    list.reduce<Record<string, number>>((acc, e) => {
      acc[e.code] = (acc[e.code] ?? 0) + 1;
      return acc;
    }, {});
  const figures = {
    concurrency: CONCURRENCY,
    stopMillis: Math.round(stopDone - stoppedAt),
    promoteMillis: Math.round(promotedAt - stopDone),
    promoteCalledToAcceptsWritesMillis:
      acceptedAt === undefined ? null : Math.round(acceptedAt - stopDone),
    acceptsWritesToFirstWriteMillis:
      firstNewWrite === undefined || acceptedAt === undefined
        ? null
        : Math.round(firstNewWrite.at - acceptedAt),
    promoteCalledToFirstWriteMillis:
      firstNewWrite === undefined ? null : Math.round(firstNewWrite.at - stopDone),
    stopToFirstWriteMillis:
      firstNewWrite === undefined ? null : Math.round(firstNewWrite.at - stoppedAt),
    writes: writes.length,
    writesOnOldPrimary: writes.filter((w) => w.port === replication.primary.port).length,
    writesOnNewPrimary: writes.filter((w) => w.port === standby1.port).length,
    writeErrors: errorCodes(writeErrors),
    reads: reads.length,
    readsDuringOutage: readsDuringOutage.length,
    readErrors: errorCodes(readErrors),
    elapsedMillis: Math.round(performance.now() - started),
  };
  console.log(`failover figures: ${JSON.stringify(figures)}`);

  expect(firstNewWrite).toBeDefined();
  expect(lastOldWrite === undefined || lastOldWrite.at <= (firstNewWrite?.at ?? 0)).toBe(true);
  // no write was ever sent to a read-only host: none refused as read-only, none landed on standby2
  expect(writeErrors.filter((e) => e.code === "25006")).toEqual([]);
  expect(
    writes.filter((w) => w.port !== replication.primary.port && w.port !== standby1.port),
  ).toEqual([]);
  // reads went on while there was no primary: standby2 served them
  expect(readsDuringOutage.length).toBeGreaterThan(0);
  expect(new Set(readsDuringOutage.map((r) => r.port))).toContain(standby2.port);
  // nothing retried: every row on the new primary was written once (ids unique, no duplicate at)
  const { rows } = await c.writer.query<{ n: number; distinct_at: number }>(
    "select count(*)::int as n, count(distinct (worker, at))::int as distinct_at from failover",
  );
  expect(rows[0]?.n).toBe(rows[0]?.distinct_at);
  expect(c.hosts().find((h) => h.port === standby1.port)?.role).toBe("primary");
  expect(c.hosts().find((h) => h.port === replication.primary.port)?.role).toBe("down");
}, 60_000);
