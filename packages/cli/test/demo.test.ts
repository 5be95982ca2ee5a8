import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import { generatePrismaClient } from "@lifeguard/test-fixtures/prisma";
import { describe, expect, it } from "vitest";

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

interface Row {
  name: string;
  lifeguard: boolean;
  queries: number;
  errors: number;
  sessionsLeaked: number;
}

describe("lifeguard demo --quick", () => {
  it("shows 0 errors and 0 leaked sessions for every Lifeguard pool, and exits 0", async () => {
    const result = await run(["demo", "--quick", "--json", "--seconds", "4"], {
      ...process.env,
      DATABASE_URL: db.url,
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as {
      subjects: Row[];
      lifeguardLostNothing: boolean;
      chaos: { idleKilled: number; busyKilled: number };
    };
    expect(report.lifeguardLostNothing).toBe(true);
    expect(report.subjects.map((s) => s.name)).toEqual([
      "plain pg.Pool",
      "Lifeguard (pg drop-in)",
      "Drizzle on Lifeguard",
      "Knex on Lifeguard",
    ]);
    for (const row of report.subjects.filter((s) => s.lifeguard)) {
      expect(row, row.name).toMatchObject({ errors: 0, sessionsLeaked: 0 });
      expect(row.queries, row.name).toBeGreaterThan(0);
    }
    // the baseline really was exposed to the same leaks
    const plain = report.subjects.find((s) => !s.lifeguard) as Row;
    expect(plain.sessionsLeaked).toBeGreaterThan(0);
    expect(report.chaos.idleKilled + report.chaos.busyKilled).toBeGreaterThan(0);
  }, 60_000);

  it("prints a table and a verdict on a terminal-less run", async () => {
    const result = await run(["demo", "--seconds", "2"], { ...process.env, DATABASE_URL: db.url });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/pool\s+queries\s+errors\s+killed mid-query\s+sessions leaked/);
    expect(result.stdout).toContain("Lifeguard lost nothing.");
  }, 60_000);

  it("with --prisma, runs Prisma on Lifeguard too, on the application's own generated client", async () => {
    const client = await generatePrismaClient();
    const result = await run(["demo", "--json", "--seconds", "3", "--prisma", client], {
      ...process.env,
      DATABASE_URL: db.url,
    });
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { subjects: Row[]; lifeguardLostNothing: boolean };
    expect(report.subjects.map((s) => s.name)).toContain("Prisma on Lifeguard");
    const prisma = report.subjects.find((s) => s.name === "Prisma on Lifeguard") as Row;
    expect(prisma).toMatchObject({ lifeguard: true, errors: 0, sessionsLeaked: 0 });
    expect(prisma.queries).toBeGreaterThan(0);
  }, 120_000);

  it("says what is missing when --prisma names no client", async () => {
    const result = await run(["demo", "--seconds", "2", "--prisma", "./no/such/client.js"], {
      ...process.env,
      DATABASE_URL: db.url,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /--prisma \.\/no\/such\/client\.js: cannot load a generated Prisma Client/,
    );
  }, 60_000);
});
