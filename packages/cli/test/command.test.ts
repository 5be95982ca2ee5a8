import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import { describe, expect, it } from "vitest";

const db = useTestDatabase();
const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url));

function lifeguard(...args: string[]) {
  const env = { ...process.env };
  delete env["DATABASE_URL"];
  const result = spawnSync(
    process.execPath,
    ["--import", "tsx", "--conditions=@lifeguard/source", cli, ...args],
    {
      encoding: "utf8",
      env,
      timeout: 60_000,
    },
  );
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("the lifeguard command", () => {
  it("advise --json prints the recommendation", () => {
    const result = lifeguard("advise", "--rate", "200", "--hold-ms", "25", "--json");
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      max: 12,
      input: { rate: 200, holdMillis: 25 },
    });
  });

  it("doctor --json against a server", () => {
    const result = lifeguard("doctor", db.url, "--json");
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      server: { version: expect.stringMatching(/^PostgreSQL/) },
    });
  });

  it.each([
    [["advise", "--rate", "abc", "--hold-ms", "5"], /--rate must be a positive number/],
    [["advise", "--hold-ms", "5"], /--rate is required/],
    [["doctor"], /doctor needs a connection URL/],
    [["frobnicate"], /unknown command "frobnicate"/],
    [["demo", "--failover", "--scenario", "kills"], /--failover runs on its own/],
    [["advise", "--rate", "1", "--hold-ms", "1", "--bogus"], /Unknown option '--bogus'/],
  ])("%j is a usage error (exit 2) that says what is wrong", (args, message) => {
    const result = lifeguard(...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain("usage:");
  });

  it.each([
    ["demo", /lifeguard demo \[--quick\] \[--scenario <name>\]/],
    ["demo", /lifeguard demo --failover \[--quick\] \[--json\]/],
    ["doctor", /lifeguard doctor \[url\]/],
    ["advise", /lifeguard advise --rate <leases\/s> --hold-ms <ms>/],
  ])("%s --help prints its usage and exits 0", (command, line) => {
    for (const flag of ["--help", "-h"]) {
      const result = lifeguard(command, flag);
      expect(result.code, flag).toBe(0);
      expect(result.stderr, flag).toBe("");
      expect(result.stdout, flag).toMatch(/^usage:/);
      expect(result.stdout, flag).toMatch(line);
    }
  });

  it("--help, before other arguments are checked, still wins over a missing option", () => {
    const result = lifeguard("advise", "--rate", "1", "--help");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/lifeguard advise/);
  });

  it("--version prints the package version", () => {
    const result = lifeguard("--version");
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
