import { parseArgs } from "node:util";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "@lifeguard/embedded";
import { UsageError, usage, wantsHelp } from "../usage.js";
import { phases, type ScenarioName, scenarioNames } from "./demo/phases.js";
import { runDemo } from "./demo/run.js";
import { formatResult, liveView } from "./demo/view.js";

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
    },
    strict: true,
  });
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
  const servers: EmbeddedPostgres[] = [];
  let url = process.env["DATABASE_URL"];
  let own: EmbeddedPostgres | undefined;
  try {
    if (url !== undefined) log("Using DATABASE_URL (its server is never restarted or stopped).");
    else {
      // the restart and down phases get a server of their own, so that what earlier phases leave
      // hanging is never caught by their restart
      const count =
        chosen.some((p) => !p.needsOwnServer) && chosen.some((p) => p.needsOwnServer) ? 2 : 1;
      log(
        `No DATABASE_URL: starting ${count === 1 ? "an embedded PostgreSQL" : "two embedded PostgreSQL servers"} in a temp directory...`,
      );
      const started = await Promise.allSettled(
        Array.from({ length: count }, () => startEmbeddedPostgres()),
      );
      for (const s of started) if (s.status === "fulfilled") servers.push(s.value);
      const failed = started.find((s) => s.status === "rejected");
      if (failed !== undefined) throw failed.reason;
      url = (servers[0] as EmbeddedPostgres).url;
      own = servers.at(-1);
      log(`PostgreSQL is up on port ${servers.map((s) => s.port).join(" and ")}.`);
    }
    const pools = values.prisma === undefined ? 4 : 5;
    log(
      `${pools} pools side by side, 5 connections and 9 concurrent requests each, all through one fault proxy per phase.`,
    );
    const view = json ? undefined : liveView(process.stdout);
    const result = await runDemo({
      url,
      ...(own === undefined ? {} : { server: own }),
      quick: values.quick === true,
      ...(scenario === undefined ? {} : { scenario }),
      ...(values.prisma === undefined ? {} : { prismaClient: values.prisma }),
      ...(view === undefined ? {} : view),
    });
    process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : formatResult(result));
    return result.lifeguardLostNothing ? 0 : 1;
  } finally {
    await Promise.all(servers.map((s) => s.destroy()));
  }
}

function isScenario(name: string): name is ScenarioName {
  return (scenarioNames as readonly string[]).includes(name);
}
