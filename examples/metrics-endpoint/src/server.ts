/**
 * A `/metrics` endpoint for Lifeguard pools, with a little traffic to look at.
 *
 *   pnpm --filter @lifeguard/example-metrics-endpoint start
 *   curl localhost:9464/metrics
 *
 * Uses DATABASE_URL when set; otherwise starts a throw-away embedded PostgreSQL.
 */
import { createServer } from "node:http";
import { startEmbeddedPostgres } from "@lifeguard/embedded";
import { Pool } from "@lifeguard/pg";
import { registerLifeguardMetrics } from "@lifeguard/prometheus";
import { collectDefaultMetrics, register } from "prom-client";

const port = Number(process.env["PORT"] ?? 9464);
const embedded = process.env["DATABASE_URL"] ? undefined : await startEmbeddedPostgres();
const connectionString = process.env["DATABASE_URL"] ?? embedded?.url;

// every Lifeguard pool in the process, on prom-client's global registry, beside Node's own metrics
registerLifeguardMetrics();
collectDefaultMetrics();

// two pools, told apart by name (the `pool_name` label)
const orders = new Pool({
  connectionString,
  name: "orders",
  max: 5,
  connectionTimeoutMillis: 2000,
});
const reports = new Pool({ connectionString, name: "reports", max: 2 });

const server = createServer((request, response) => {
  if (request.url !== "/metrics") {
    response.writeHead(404).end("try /metrics\n");
    return;
  }
  register.metrics().then(
    (text) => response.writeHead(200, { "content-type": register.contentType }).end(text),
    (error: unknown) => response.writeHead(500).end(String(error)),
  );
});
server.listen(port, () => console.log(`metrics on http://localhost:${port}/metrics`));

// some traffic: short queries on one pool, slower ones (and some waiting) on the other
const traffic = setInterval(() => {
  for (let i = 0; i < 10; i++) void orders.query("select 1").catch(() => undefined);
  for (let i = 0; i < 3; i++) void reports.query("select pg_sleep(0.05)").catch(() => undefined);
}, 200);

async function shutdown(): Promise<void> {
  clearInterval(traffic);
  server.close();
  await Promise.all([orders.end(), reports.end()]);
  await embedded?.destroy();
}
process.once("SIGINT", () => void shutdown());
process.once("SIGTERM", () => void shutdown());
