import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import { generatePrismaClient } from "@lifeguard/test-fixtures/prisma";
import { describe, expect, it } from "vitest";
import type { DemoResult, PhaseResult, PoolFigures } from "../src/index.js";

// The demo's figures are measured, so these tests assert only what must hold whatever the machine's
// speed: who hangs, who leaks, who reports; never how long anything took.

const db = useTestDatabase();
const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url));

function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--conditions=@lifeguard/source", cli, ...args],
      { env },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The demo on the test's database: the restart and down phases cannot run there. */
const onTestDatabase = () => ({ ...process.env, DATABASE_URL: db.url });
/** The demo on servers of its own, as a user without DATABASE_URL runs it. */
function onOwnServers(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env["DATABASE_URL"];
  return env;
}

function phase(report: DemoResult, name: string): PhaseResult {
  const found = report.phases.find((p) => p.name === name);
  if (found === undefined) throw new Error(`no phase ${name} in the report`);
  return found;
}

const plainOf = (p: PhaseResult) => p.subjects.find((s) => !s.lifeguard) as PoolFigures;
const lifeguardOf = (p: PhaseResult) => p.subjects.filter((s) => s.lifeguard);

function expectNetworkCutFigures(cut: PhaseResult): void {
  expect(cut.fault?.details["connectionsSilenced"]).toBeGreaterThan(0);
  // pg.Pool lends the silenced connections: its requests wait for ever
  expect(plainOf(cut).hung).toBeGreaterThan(0);
  expect(plainOf(cut).timeToRecoverMillis).toBeNull();
  // Lifeguard's pre-ping finds them dead and opens new ones inside the acquire deadline
  for (const s of lifeguardOf(cut)) {
    expect(s, s.name).toMatchObject({ hung: 0, sessionsLeaked: 0 });
    expect(s.succeeded, s.name).toBeGreaterThan(0);
    expect(s.timeToRecoverMillis, s.name).not.toBeNull();
  }
}

describe("lifeguard demo", () => {
  it("--quick --json on its own servers: every phase, and the figures that must hold", async () => {
    const result = await run(["demo", "--quick", "--json"], onOwnServers());
    expect(result.stderr).toBe("");
    const report = JSON.parse(result.stdout) as DemoResult;
    // the verdict is the exit code; what it rests on is asserted figure by figure below
    expect(result.code).toBe(report.lifeguardLostNothing ? 0 : 1);
    expect(report).toMatchObject({ database: "embedded", quick: true, hangThresholdMillis: 5000 });
    expect(report.phases.map((p) => [p.name, p.skipped])).toEqual([
      ["kills", undefined],
      ["network-cut", undefined],
      ["leak", undefined],
      ["restart", undefined],
      ["down", undefined],
    ]);
    for (const p of report.phases) {
      expect(p.subjects.map((s) => s.name)).toEqual([
        "plain pg.Pool",
        "Lifeguard (pg drop-in)",
        "Drizzle on Lifeguard",
        "Knex on Lifeguard",
      ]);
      for (const s of p.subjects) expect(s.requests, `${p.name}: ${s.name}`).toBeGreaterThan(0);
      // no Lifeguard pool leaks a session or hangs a request, whatever the fault
      for (const s of lifeguardOf(p))
        expect(s, `${p.name}: ${s.name}`).toMatchObject({ sessionsLeaked: 0, hung: 0 });
    }

    const kills = phase(report, "kills");
    const killed = kills.fault?.details ?? {};
    expect(
      (killed["idleBackendsKilled"] ?? 0) + (killed["busyBackendsKilled"] ?? 0),
    ).toBeGreaterThan(0);
    // the baseline runs the same careless requests: it hands their session state on
    const plainLeaks = report.phases.reduce((sum, p) => sum + plainOf(p).sessionsLeaked, 0);
    expect(plainLeaks).toBeGreaterThan(0);
    // the same workload for every pool: requests arrive at a fixed rate, whatever happens to them
    for (const p of report.phases)
      expect(new Set(p.subjects.map((s) => s.requests)).size, p.name).toBe(1);

    expectNetworkCutFigures(phase(report, "network-cut"));

    const leak = phase(report, "leak");
    expect(plainOf(leak).hung).toBeGreaterThan(0);
    expect(plainOf(leak).leaksReported).toBe(0);
    for (const s of lifeguardOf(leak)) {
      // every leaked lease reported, with the stack of the code that took it
      expect(s, s.name).toMatchObject({ leasesLeaked: 5, leaksReported: 5 });
      expect(s.leakReportStack, s.name).toMatch(/leakLease/);
      // its requests fail at the acquire deadline instead of waiting for ever
      expect(s.failed, s.name).toBeGreaterThan(0);
    }

    expect(phase(report, "restart").fault?.details["restartMillis"]).toBeGreaterThan(0);
    const down = phase(report, "down");
    expect(down.fault?.details["downMillis"]).toBeGreaterThan(0);
    // while the database is down every pool's requests fail: the same fault for all
    for (const s of down.subjects) expect(s.failed, s.name).toBeGreaterThan(0);
  }, 180_000);

  it("--scenario network-cut runs that phase alone, on DATABASE_URL's server too", async () => {
    const result = await run(
      ["demo", "--quick", "--json", "--scenario", "network-cut"],
      onTestDatabase(),
    );
    expect(result.stderr).toBe("");
    const report = JSON.parse(result.stdout) as DemoResult;
    expect(result.code).toBe(report.lifeguardLostNothing ? 0 : 1);
    expect(report.database).toBe("DATABASE_URL");
    expect(report.phases.map((p) => p.name)).toEqual(["network-cut"]);
    expectNetworkCutFigures(phase(report, "network-cut"));
  }, 120_000);

  it("--scenario restart with DATABASE_URL skips the phase and says why: a user's server is never restarted", async () => {
    const json = await run(["demo", "--json", "--scenario", "restart"], onTestDatabase());
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as DemoResult;
    expect(report.phases).toHaveLength(1);
    expect(report.phases[0]).toMatchObject({ name: "restart", subjects: [] });
    expect(report.phases[0]?.skipped).toMatch(/DATABASE_URL is set.*never yours/);

    const text = await run(["demo", "--scenario", "down"], onTestDatabase());
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Phase 1\/1: database down: skipped, because DATABASE_URL is set/);
  }, 120_000);

  it("prints each phase as it starts, then the table and its legend", async () => {
    const result = await run(["demo", "--quick", "--scenario", "kills"], onTestDatabase());
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("▶ Phase 1/1: backend kills: pg_terminate_backend");
    expect(result.stdout).toMatch(
      /phase \/ pool\s+requests\s+failed\s+hung > 5 s\s+p99 latency\s+time to recover\s+sessions leaked/,
    );
    expect(result.stdout).toMatch(/\n {2}plain pg\.Pool\s+\d+/);
    expect(result.stdout).toContain("Lifeguard's are harmless");
    const verdict = result.code === 0 ? "Lifeguard lost nothing" : "Lifeguard LOST something";
    expect(result.stdout).toContain(verdict);
  }, 120_000);

  it("--scenario names the phases it accepts when given another (exit 2)", async () => {
    const result = await run(["demo", "--scenario", "meteor"], onTestDatabase());
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /--scenario must be one of kills, network-cut, leak, restart, down; got "meteor"/,
    );
    expect(result.stderr).toContain("lifeguard demo [--quick]");
  }, 60_000);

  it("with --prisma, runs Prisma on Lifeguard too, on the application's own generated client", async () => {
    const client = await generatePrismaClient();
    const result = await run(
      ["demo", "--quick", "--json", "--scenario", "kills", "--prisma", client],
      onTestDatabase(),
    );
    const report = JSON.parse(result.stdout) as DemoResult;
    expect(result.code).toBe(report.lifeguardLostNothing ? 0 : 1);
    const prisma = phase(report, "kills").subjects.find((s) => s.name === "Prisma on Lifeguard");
    expect(prisma).toMatchObject({ lifeguard: true, hung: 0, sessionsLeaked: 0 });
    expect(prisma?.succeeded).toBeGreaterThan(0);
  }, 120_000);

  it("says what is missing when --prisma names no client", async () => {
    const result = await run(
      ["demo", "--quick", "--scenario", "kills", "--prisma", "./no/such/client.js"],
      onTestDatabase(),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /--prisma \.\/no\/such\/client\.js: cannot load a generated Prisma Client/,
    );
  }, 60_000);
});
