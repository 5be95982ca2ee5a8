import {
  ConnectionBudgetError,
  DatabaseUnavailableError,
  InvalidOptionError,
} from "@lifeguard/core";
import { usePrivateServer } from "@lifeguard/test-fixtures";
import { afterEach, describe, expect, it, vi } from "vitest";
import { defineLifeguardConfig, lifeguardConfigFromEnv, Pool } from "../src/index.js";

describe("lifeguardConfigFromEnv (pg)", () => {
  it("reads the PostgreSQL options beside the core ones", () => {
    const config = lifeguardConfigFromEnv({
      LIFEGUARD_MAX: "12",
      LIFEGUARD_RESET: "always",
      LIFEGUARD_RESET_QUERY: "RESET ALL",
      LIFEGUARD_EVICT_ON_SQL_STATE: "08*, 57P01,25006",
      LIFEGUARD_BUDGET_INSTANCES: "4",
      LIFEGUARD_BUDGET_ENFORCE: "true",
    });
    expect(config).toEqual({
      max: 12,
      reset: "always",
      resetQuery: "RESET ALL",
      evictOnSqlState: ["08", "57P01", "25006"],
      budget: { instances: 4, enforce: true },
    });
  });

  it.each([
    ["LIFEGUARD_RESET", "sometimes", /one of auto, always, never/],
    ["LIFEGUARD_EVICT_ON_SQL_STATE", "08,XYZ", /"XYZ" is not a SQLSTATE/],
    ["LIFEGUARD_BUDGET_INSTANCES", "0", /integer from 1 to 100000/],
  ])("rejects %s=%j naming the variable", (variable, value, message) => {
    expect(() => lifeguardConfigFromEnv({ [variable]: value })).toThrow(InvalidOptionError);
    expect(() => lifeguardConfigFromEnv({ [variable]: value })).toThrow(message);
    expect(() => lifeguardConfigFromEnv({ [variable]: value })).toThrow(variable);
  });

  it("defineLifeguardConfig gives one object every pool accepts unchanged", () => {
    const shared = defineLifeguardConfig({
      max: 3,
      reset: "always",
      prePing: { bypassWindowMillis: 100 },
    });
    const pool = new Pool({ ...shared, host: "127.0.0.1", user: "app" });
    expect(pool.stats().max).toBe(3);
    void pool.end();
  });
});

describe("connection budget", () => {
  // 20 connections, 3 reserved for superusers: 17 for applications
  const server = usePrivateServer({
    serverConfig: { max_connections: 20, superuser_reserved_connections: 3 },
  });
  const pools: Pool[] = [];
  afterEach(async () => {
    for (const p of pools.splice(0)) await p.end();
    vi.restoreAllMocks();
  });

  it("warns on the first connect when instances × max exceeds what the server allows", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    const pool = new Pool({ connectionString: server.url, max: 10, budget: { instances: 2 } });
    pools.push(pool);
    await pool.query("select 1");
    await pool.query("select 1");
    const budgetWarnings = warn.mock.calls.filter((call) =>
      JSON.stringify(call).includes("LIFEGUARD_CONNECTION_BUDGET"),
    );
    expect(budgetWarnings).toHaveLength(1);
    expect(String(budgetWarnings[0]?.[0])).toMatch(
      /2 instances × max 10 = 20 connections, but the server allows 17 \(max_connections 20 − 3 superuser-reserved − 0 reserved − 0 budget\.reserved\)\. Lower max to 8 per instance/,
    );
  });

  it("stays quiet within budget", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    const pool = new Pool({
      connectionString: server.url,
      max: 5,
      budget: { instances: 3, reserved: 2 },
    });
    pools.push(pool);
    await pool.query("select 1");
    expect(warn.mock.calls.filter((call) => JSON.stringify(call).includes("BUDGET"))).toHaveLength(
      0,
    );
  });

  it("with enforce, acquires fail fast with ConnectionBudgetError as the cause", async () => {
    const pool = new Pool({
      connectionString: server.url,
      max: 10,
      budget: { instances: 2, enforce: true },
    });
    pools.push(pool);
    const error = await pool.query("select 1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect((error as Error).cause).toBeInstanceOf(ConnectionBudgetError);
    expect((error as Error).message).toMatch(/Connection budget exceeded/);
    expect(pool.totalCount).toBe(0);
  });

  it("rejects a malformed budget at construction", () => {
    expect(() => new Pool({ budget: { instances: 0 } })).toThrow(
      /"instances" must be an integer from 1/,
    );
    expect(() => new Pool({ budget: { instances: 2, spare: 1 } as never })).toThrow(
      /unknown key "spare"/,
    );
  });
});
