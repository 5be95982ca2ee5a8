import { parseArgs } from "node:util";
import { startEmbeddedPostgres } from "@lifeguard/embedded";
import { runDemo } from "./demo/run.js";
import { formatResult, progressPrinter } from "./demo/view.js";

/**
 * `lifeguard demo`: one workload through Lifeguard (pg drop-in, Drizzle, Knex) and plain pg.Pool,
 * while backends are killed and sessions dirtied on purpose. Exits 1 if Lifeguard lost anything.
 */
export async function runDemoCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean" },
      json: { type: "boolean" },
      seconds: { type: "string" },
      prisma: { type: "string" },
    },
    strict: true,
  });
  const seconds =
    values.seconds === undefined ? (values.quick === true ? 6 : 20) : Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds < 2 || seconds > 120) {
    throw new Error("--seconds must be a number from 2 to 120");
  }
  const log = (line: string) => {
    if (values.json !== true) process.stdout.write(`${line}\n`);
  };
  let url = process.env["DATABASE_URL"];
  let server: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
  if (url === undefined) {
    log("No DATABASE_URL: starting an embedded PostgreSQL in a temp directory...");
    server = await startEmbeddedPostgres();
    url = server.url;
    log(`PostgreSQL is up on port ${server.port}.`);
  } else log("Using DATABASE_URL.");
  try {
    const pools = values.prisma === undefined ? 4 : 5;
    log(
      `Running for ${seconds} s: ${pools} pools of 5 connections, 9 concurrent requests each; killing backends every second.\n`,
    );
    const result = await runDemo({
      url,
      durationMillis: seconds * 1000,
      ...(values.prisma === undefined ? {} : { prismaClient: values.prisma }),
      ...(values.json === true ? {} : { onProgress: progressPrinter(process.stdout) }),
    });
    process.stdout.write(
      values.json === true ? `${JSON.stringify(result, null, 2)}\n` : formatResult(result),
    );
    return result.lifeguardLostNothing ? 0 : 1;
  } finally {
    await server?.destroy();
  }
}
