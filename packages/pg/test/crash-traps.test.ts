import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import { describe, expect, it } from "vitest";

const db = useTestDatabase();
const script = fileURLToPath(new URL("./fixtures/crash-trap.ts", import.meta.url));

function run(impl: "lifeguard" | "pg", scenario: "idle" | "checked-out") {
  const child = spawnSync(
    process.execPath,
    ["--import", "tsx", "--conditions=@lifeguard/source", script, impl, scenario, db.url],
    { encoding: "utf8", timeout: 30_000 },
  );
  return { code: child.status, stdout: child.stdout, stderr: child.stderr };
}

describe("a backend that dies never crashes the process", () => {
  it.each(["idle", "checked-out"] as const)("while %s: Lifeguard survives", (scenario) => {
    const result = run("lifeguard", scenario);
    expect(result.stderr).not.toMatch(/Unhandled 'error' event/);
    expect(result.stdout).toContain("survived");
    expect(result.code).toBe(0);
  });

  it.each(["idle", "checked-out"] as const)(
    "while %s: plain pg.Pool crashes (its known behaviour)",
    (scenario) => {
      const result = run("pg", scenario);
      expect(result.stderr).toMatch(
        /Unhandled 'error' event|terminating connection due to administrator command/,
      );
      expect(result.stdout).not.toContain("survived");
      expect(result.code).not.toBe(0);
    },
  );
});
