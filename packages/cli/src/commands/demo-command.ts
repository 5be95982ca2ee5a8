import { parseArgs } from "node:util";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "@lifeguard/embedded";
import { UsageError, usage, wantsHelp } from "../usage.js";
import { phases, type ScenarioName, scenarioNames } from "./demo/phases.js";
import { runDemo } from "./demo/run.js";
import { formatResult, liveView } from "./demo/view.js";
import { REQUESTS_PER_SECOND } from "./demo/workload.js";

/**
 * `lifeguard demo`: one workload through Lifeguard (pg drop-in, Drizzle, Knex, Prisma) and plain
 * pg.Pool, phase by phase through the faults production sees. Exits 1 if Lifeguard lost anything.
 */
export async function runDemoCommand(args: string[]): Promise<number> {
  if (wantsHelp(args)) {
    process.stdout.write(usage("demo"));
    return 0;
  }
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean" },
      json: { type: "boolean" },
      scenario: { type: "string" },
      prisma: { type: "string" },
      failover: { type: "boolean" },
    },
    strict: true,
  });
  if (values.failover === true) {
    if (values.scenario !== undefined || values.prisma !== undefined) {
      throw new UsageError("--failover runs on its own: leave out --scenario and --prisma");
    }
    return await runFailover(values.quick === true, values.json === true);
  }
  const scenario = values.scenario;
  if (scenario !== undefined && !isScenario(scenario)) {
    throw new UsageError(
      `--scenario must be one of ${scenarioNames.join(", ")}; got ${JSON.stringify(scenario)}`,
    );
  }
  const json = values.json === true;
  const log = (line: string) => {
    if (!json) process.stdout.write(`${line}\n`);
  };
  const chosen = phases.filter((p) => scenario === undefined || p.name === scenario);
  const servers: Promise<EmbeddedPostgres>[] = [];
  const start = () => {
    const server = startEmbeddedPostgres();
    server.catch(() => undefined); // awaited where it is used; never unhandled meanwhile
    servers.push(server);
    return server;
  };
  let url = process.env["DATABASE_URL"];
  let own: Promise<EmbeddedPostgres> | undefined;
  try {
    if (url !== undefined) log("Using DATABASE_URL (its server is never restarted or stopped).");
    else {
      log("No DATABASE_URL: starting an embedded PostgreSQL in a temp directory...");
      const main = await start();
      url = main.url;
      log(`PostgreSQL is up on port ${main.port}.`);
      // the restart and down phases get a server of their own, so that what earlier phases leave
      // hanging is never caught by their restart; it starts while the first phases run
      if (chosen.some((p) => p.needsOwnServer))
        own = chosen.some((p) => !p.needsOwnServer) ? start() : Promise.resolve(main);
    }
    const pools = values.prisma === undefined ? 4 : 5;
    log(
      `${pools} pools side by side, 5 connections and ${REQUESTS_PER_SECOND} requests/s each, through one fault proxy per phase.`,
    );
    const view = json ? undefined : liveView(process.stdout);
    const result = await runDemo({
      url,
      ...(own === undefined ? {} : { server: own }),
      database: process.env["DATABASE_URL"] === undefined ? "embedded" : "DATABASE_URL",
      quick: values.quick === true,
      ...(scenario === undefined ? {} : { scenario }),
      ...(values.prisma === undefined ? {} : { prismaClient: values.prisma }),
      ...(view === undefined ? {} : view),
    });
    process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : formatResult(result));
    return result.lifeguardLostNothing ? 0 : 1;
  } finally {
    for (const started of await Promise.allSettled(servers))
      if (started.status === "fulfilled") await started.value.destroy();
  }
}

/** `--failover`: always on its own embedded primary and standby (DATABASE_URL is not used). */
async function runFailover(quick: boolean, json: boolean): Promise<number> {
  const { formatFailover, runFailoverDemo } = await import("./demo/failover.js");
  const log = (line: string) => {
    if (!json) process.stdout.write(`${line}\n`);
  };
  if (process.env["DATABASE_URL"] !== undefined) {
    log("--failover builds its own primary and standby: DATABASE_URL is not used.");
  }
  const result = await runFailoverDemo({ quick, log });
  process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : formatFailover(result));
  return result.lifeguardRecovered ? 0 : 1;
}

function isScenario(name: string): name is ScenarioName {
  return (scenarioNames as readonly string[]).includes(name);
}
