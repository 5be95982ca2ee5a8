/**
 * A frozen serverless instance, for real: this script forks itself into a "function" process
 * holding a Lifeguard Pool (serverless: 'lambda') and a plain pg.Pool, each with idle connections;
 * it freezes it (SIGSTOP), kills their backends on the server, queues the next "invocation" and
 * thaws it (SIGCONT).
 *
 *   pnpm --filter @lifeguard/example-lifecycles freeze-thaw
 *
 * Starts a throw-away embedded PostgreSQL. Linux and macOS (it uses SIGSTOP).
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startEmbeddedPostgres } from "@lifeguard/embedded";
import { Pool } from "@lifeguard/pg";
import pg from "pg";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function invoke(pool: pg.Pool): Promise<string> {
  const results = await Promise.allSettled(
    Array.from({ length: 10 }, (_, i) => pool.query("select $1::int as i", [i])),
  );
  const failed = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
  const first = failed[0]?.reason as Error | undefined;
  return `${10 - failed.length} ok, ${failed.length} failed${first ? ` (${first.message})` : ""}`;
}

if (process.argv[2] === "function") {
  // the function instance: pools created outside the handler, as on Lambda
  const url = process.argv[3] as string;
  const lifeguard = new Pool({ connectionString: url, serverless: "lambda", max: 3 });
  const plain = new pg.Pool({ connectionString: url, max: 3 });
  plain.on("error", () => undefined);
  for (const pool of [lifeguard, plain]) {
    const clients = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
    for (const client of clients) client.release();
  }
  process.once("message", async () => {
    const [l, p] = await Promise.all([invoke(lifeguard), invoke(plain)]);
    const { prePings, clockLeaps } = lifeguard.lifeguard.stats().counters;
    console.log(`Lifeguard (serverless: 'lambda'): ${l}`);
    console.log(
      `  freezes detected: ${clockLeaps}, pings: ${prePings.ok} ok, ${prePings.failed} failed`,
    );
    console.log(`pg.Pool:                          ${p}`);
    await Promise.all([lifeguard.end(), plain.end()]);
    process.disconnect?.();
  });
  process.send?.("ready");
} else {
  const server = await startEmbeddedPostgres();
  try {
    const child = fork(fileURLToPath(import.meta.url), ["function", server.url], {
      execArgv: process.execArgv,
    });
    await new Promise((resolve) => child.once("message", resolve));
    console.log("freezing the function instance (SIGSTOP) ...");
    child.kill("SIGSTOP");
    await sleep(100);
    child.send("invoke"); // the next invocation is waiting when it thaws
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    const { rowCount } = await admin.query(
      "select pg_terminate_backend(pid) from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()",
    );
    await admin.end();
    console.log(`the server closed its ${rowCount} idle connections; thawing after 3 s (SIGCONT)`);
    await sleep(3000);
    child.kill("SIGCONT");
    await new Promise((resolve) => child.once("exit", resolve));
  } finally {
    await server.destroy();
  }
}
