import { spawn } from "node:child_process";

export interface ProcessResult {
  readonly command: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The process had to be killed: it did not exit within the time it had. */
  readonly timedOut: boolean;
}

export interface RunOptions {
  readonly cwd: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMillis: number;
  /**
   * For a program that never exits by itself (a server): called every 250 ms while it runs; the
   * process is stopped (SIGTERM) as soon as this resolves true, and counts as a success then.
   */
  readonly until?: () => Promise<boolean>;
}

/** Runs a command to completion (or until `until` holds), collecting its output. Never throws. */
export function runProcess(
  command: string,
  args: readonly string[],
  options: RunOptions,
): Promise<ProcessResult & { readonly stoppedByUntil: boolean }> {
  const shown = [command, ...args].join(" ");
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    let stoppedByUntil = false;
    let exited = false;
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMillis);
    let poll: NodeJS.Timeout | undefined;
    if (options.until !== undefined) {
      const until = options.until;
      const check = () => {
        until().then(
          (done) => {
            if (exited) return;
            if (done) {
              stoppedByUntil = true;
              child.kill("SIGTERM");
            } else poll = setTimeout(check, 250);
          },
          () => {
            if (!exited) poll = setTimeout(check, 250);
          },
        );
      };
      poll = setTimeout(check, 250);
    }
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (exited) return;
      exited = true;
      clearTimeout(timer);
      if (poll !== undefined) clearTimeout(poll);
      resolve({ command: shown, code, signal, stdout, stderr, timedOut, stoppedByUntil });
    };
    child.on("error", (error) => {
      stderr += `${error.message}\n`;
      finish(null, null);
    });
    child.on("close", finish);
  });
}

/** Runs a command that must succeed; throws with its output when it does not. */
export async function mustRun(
  command: string,
  args: readonly string[],
  options: RunOptions,
): Promise<ProcessResult> {
  const result = await runProcess(command, args, options);
  if (result.code !== 0) throw new Error(describeFailure(result));
  return result;
}

/** One readable paragraph: what ran, how it ended, and the end of its output. */
export function describeFailure(result: ProcessResult, what = result.command): string {
  const ending = result.timedOut
    ? "did not finish in time and was killed (a handle left open, or a hang)"
    : result.signal !== null
      ? `was killed by ${result.signal}`
      : `exited with code ${result.code}`;
  return [`${what} ${ending}`, tail("stdout", result.stdout), tail("stderr", result.stderr)]
    .filter((part) => part !== "")
    .join("\n");
}

function tail(label: string, text: string): string {
  if (text.trim() === "") return "";
  const lines = text.trimEnd().split("\n");
  const shown = lines.slice(-40).map((line) => `    ${line}`);
  const cut = lines.length > 40 ? ` (last 40 of ${lines.length} lines)` : "";
  return `  ${label}${cut}:\n${shown.join("\n")}`;
}
