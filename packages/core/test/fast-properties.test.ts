import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/** Runs the fixture in a child process with the V8 flags it needs; returns what it printed. */
async function runFixture(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const fixture = fileURLToPath(new URL("./fixtures/fast-properties.ts", import.meta.url));
  const cwd = fileURLToPath(new URL("..", import.meta.url));
  const child = spawn(
    process.execPath,
    [
      "--allow-natives-syntax",
      "--expose-gc",
      "--import",
      "tsx",
      "--conditions=@lifeguard/source",
      fixture,
    ],
    { cwd, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { code, stdout, stderr };
}

describe("pool object layout", () => {
  // A process that builds pools one after another (a pool per tenant, per test file) must not
  // slow down: V8 turned every Pool after the 7th into a dictionary-mode object, with 24 `#`
  // fields stored as keyed properties, which halved acquire throughput (docs/architecture.md).
  it("keeps fast properties in every pool built after earlier pools were collected", async () => {
    const { code, stdout, stderr } = await runFixture();
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const { pools, controls } = JSON.parse(stdout) as { pools: boolean[]; controls: boolean[] };
    // the control class shows the check detects dictionary mode on this Node version
    expect(controls.slice(0, 6)).toEqual(Array(6).fill(true));
    expect(controls.at(-1)).toBe(false);
    expect(pools).toEqual(Array(12).fill(true));
  }, 30_000);
});
