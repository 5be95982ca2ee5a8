/**
 * pool.listen() through a terminated backend and a server restart, beside a plain pg.Client LISTEN.
 *
 *   pnpm --filter @lifeguard/example-lifecycles listen
 *
 * Starts a throw-away embedded PostgreSQL (it restarts it, so it never uses DATABASE_URL).
 */
import { startEmbeddedPostgres } from "@lifeguard/embedded";
import { Pool } from "@lifeguard/pg";
import pg from "pg";

const server = await startEmbeddedPostgres();
const pool = new Pool({
  connectionString: server.url,
  name: "listener",
  application_name: "example-listener",
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Lifeguard: a connection of its own that heals, and says what it may have missed
let healed = 0;
await pool.listen("orders", () => healed++, {
  onGap: (gap) =>
    console.log(
      `gap on "${gap.channel}": ${gap.resumedAt.getTime() - gap.disconnectedAt.getTime()} ms, ` +
        `${gap.attempts} connect attempt(s), cause: ${gap.cause?.message ?? "connection closed"}` +
        " -> re-read what changed since gap.disconnectedAt",
    ),
});

// plain pg: LISTEN on a client of its own
const plain = new pg.Client({ connectionString: server.url, application_name: "example-plain" });
let plainErrors = 0;
plain.on("error", (error) => {
  // without this listener the process would die here
  if (plainErrors++ === 0) console.log(`plain pg.Client: 'error' ${error.message}, then silence`);
});
let plainReceived = 0;
plain.on("notification", () => plainReceived++);
await plain.connect();
await plain.query('LISTEN "orders"');

// a NOTIFY every 10 ms from a pool of its own
const sender = new Pool({
  connectionString: server.url,
  name: "sender",
  max: 1,
  connectionTimeoutMillis: 1000,
});
let sent = 0;
let sending = true;
const stream = (async () => {
  while (sending) {
    try {
      await sender.query("select pg_notify('orders', $1)", [String(sent + 1)]);
      sent++;
    } catch {
      // the server is restarting
    }
    await sleep(10);
  }
})();

await sleep(1000);
console.log("terminating both listeners' backends ...");
await pool.query(
  "select pg_terminate_backend(pid) from pg_stat_activity where application_name like 'example-%' and pid <> pg_backend_pid()",
);
await sleep(1000);
console.log("restarting the server ...");
await server.restart();
await sleep(1500);
sending = false;
await stream;
await sleep(100);

console.log(
  `sent ${sent}; pool.listen() received ${healed}; plain pg.Client received ${plainReceived}`,
);
await pool.unlisten("orders");
await Promise.all([pool.end(), sender.end(), plain.end().catch(() => undefined)]);
await server.destroy();
