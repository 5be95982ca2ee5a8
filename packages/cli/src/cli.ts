import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { advise } from "./commands/advise.js";
import { doctor, formatDoctor } from "./commands/doctor.js";
import { isCommand, UsageError, usage, wantsHelp } from "./usage.js";

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
  if (isCommand(command) && wantsHelp(rest)) {
    process.stdout.write(usage(command));
    return 0;
  }
  switch (command) {
    case undefined:
    case "--help":
    case "-h":
    case "help":
      process.stdout.write(usage());
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
      const code = await runDemoCommand(rest);
      // a pool may still be closing a connection it was cleaning when the servers went away (it
      // gives up within seconds): the demo is over and its servers are gone, so do not wait
      process.stdout.write("", () => process.exit(code));
      return code;
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

const argv = process.argv.slice(2);
main(argv).then(
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
      // the usage of the command that was run, or all of them
      const command = isCommand(argv[0]) ? argv[0] : undefined;
      process.stderr.write(`lifeguard: ${error.message}\n\n${usage(command)}`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`lifeguard: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
