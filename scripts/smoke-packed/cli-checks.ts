import { join } from "node:path";
import { describeFailure, runProcess } from "./run-process.js";

interface CliCheck {
  readonly args: readonly string[];
  /** Standard output must match. */
  readonly stdout: RegExp;
}

function checks(version: string): CliCheck[] {
  return [
    {
      args: ["--help"],
      stdout:
        /^usage:$(?=[\s\S]*lifeguard demo)(?=[\s\S]*lifeguard doctor)(?=[\s\S]*lifeguard advise)/m,
    },
    // reads the package.json beside dist/: breaks if the file layout of the tarball changes
    { args: ["--version"], stdout: new RegExp(`^${version.replaceAll(".", "\\.")}\\n$`) },
    { args: ["demo", "--help"], stdout: /lifeguard demo/ },
    { args: ["doctor", "--help"], stdout: /lifeguard doctor/ },
    { args: ["advise", "--help"], stdout: /lifeguard advise/ },
    // the README's commands (doctor against the test server, through DATABASE_URL)
    {
      args: ["advise", "--rate", "500", "--hold-ms", "20", "--instances", "3", "--cores", "8"],
      stdout: /max/i,
    },
    {
      args: ["doctor", "--instances", "4"],
      stdout: /recommended max per instance \(4 instances\)/,
    },
  ];
}

/** Runs the installed `lifeguard` command (node_modules/.bin, as npx would). */
export async function runCliChecks(
  app: string,
  version: string,
  env: NodeJS.ProcessEnv,
): Promise<{ failures: string[]; notes: string[] }> {
  const bin = join(app, "node_modules", ".bin", "lifeguard");
  const failures: string[] = [];
  const notes: string[] = [];
  for (const check of checks(version)) {
    const shown = `lifeguard ${check.args.join(" ")}`;
    const result = await runProcess(bin, check.args, { cwd: app, env, timeoutMillis: 60_000 });
    if (result.code === 0 && check.stdout.test(result.stdout)) {
      console.log(`ok - ${shown}`);
    } else {
      console.log(`not ok - ${shown}`);
      failures.push(
        result.code === 0
          ? `${describeFailure(result, shown)}\n  (exit 0, but its output does not match ${check.stdout})`
          : describeFailure(result, shown),
      );
    }
  }
  return { failures, notes };
}
