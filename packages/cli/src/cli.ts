import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { advise } from "./commands/advise.js";
import { doctor, formatDoctor } from "./commands/doctor.js";

const usage = `lifeguard — a PostgreSQL connection pool you can trust in production

usage:
  lifeguard demo [--quick] [--seconds N] [--prisma <generated client module>] [--json]
                                            run one workload through Lifeguard (pg, Drizzle, Knex,
                                            and Prisma with --prisma) and plain pg.Pool while
                                            killing backends and leaking session state; compare
                                            (embedded PostgreSQL unless DATABASE_URL is set)
  lifeguard doctor [url] [--instances N] [--json]
                                            server limits, connections by application, timeouts
                                            that interact with a pool, a recommended max
  lifeguard advise --rate <leases/s> --hold-ms <ms> [--instances N] [--cores C] [--spindles S] [--json]
                                            pool size from Little's law and (cores × 2) + spindles
  lifeguard --version
`;

class UsageError extends Error {}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

function positiveNumber(
  name: string,
  value: string | undefined,
  required: boolean,
): number | undefined {
  if (value === undefined) {
    if (required) throw new UsageError(`--${name} is required`);
    return undefined;
  }
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`--${name} must be a positive number; got ${JSON.stringify(value)}`);
  return n;
}

function positiveInteger(name: string, value: string | undefined): number | undefined {
  const n = positiveNumber(name, value, false);
  if (n !== undefined && !Number.isInteger(n))
    throw new UsageError(`--${name} must be a whole number; got ${value}`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case "--help":
    case "-h":
    case "help":
      process.stdout.write(usage);
      return 0;
    case "--version":
    case "-v":
      process.stdout.write(`${version()}\n`);
      return 0;
    case "advise": {
      const { values } = parseArgs({
        args: rest,
        options: {
          rate: { type: "string" },
          "hold-ms": { type: "string" },
          instances: { type: "string" },
          cores: { type: "string" },
          spindles: { type: "string" },
          json: { type: "boolean" },
        },
        strict: true,
      });
      const input = {
        rate: positiveNumber("rate", values.rate, true) as number,
        holdMillis: positiveNumber("hold-ms", values["hold-ms"], true) as number,
        ...optional("instances", positiveInteger("instances", values.instances)),
        ...optional("cores", positiveInteger("cores", values.cores)),
        ...optional("spindles", positiveInteger("spindles", values.spindles)),
      };
      const advice = advise(input);
      process.stdout.write(
        values.json === true
          ? `${JSON.stringify({ input, ...advice }, null, 2)}\n`
          : `${advice.explanation.join("\n")}\n`,
      );
      return 0;
    }
    case "doctor": {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { instances: { type: "string" }, json: { type: "boolean" } },
        allowPositionals: true,
        strict: true,
      });
      const url = positionals[0] ?? process.env["DATABASE_URL"];
      if (url === undefined)
        throw new UsageError(
          "doctor needs a connection URL: lifeguard doctor postgres://... (or set DATABASE_URL)",
        );
      if (positionals.length > 1) throw new UsageError("doctor takes one URL");
      const instances = positiveInteger("instances", values.instances);
      const report = await doctor(url, instances === undefined ? {} : { instances });
      process.stdout.write(
        values.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatDoctor(report),
      );
      return 0;
    }
    case "demo": {
      const { runDemoCommand } = await import("./commands/demo-command.js");
      return runDemoCommand(rest);
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (
      error instanceof UsageError ||
      (error instanceof TypeError &&
        "code" in error &&
        String(error.code).startsWith("ERR_PARSE_ARGS"))
    ) {
      process.stderr.write(`lifeguard: ${error.message}\n\n${usage}`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`lifeguard: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
