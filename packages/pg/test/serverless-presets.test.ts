import { InvalidOptionError } from "@lifeguard/core";
import { afterEach, describe, expect, it } from "vitest";
import { lifeguardConfigFromEnv, Pool, serverlessPresets } from "../src/index.js";

// no connection is opened: min is 0 and nothing is borrowed
const url = "postgres://user@127.0.0.1:1/none";
const pools: Pool[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.end();
});
function open(config: ConstructorParameters<typeof Pool>[0]): Pool {
  const pool = new Pool({ connectionString: url, ...config });
  pools.push(pool);
  return pool;
}

describe("serverless presets", () => {
  it("lambda: one connection, min 0, no client idle timeout, idle sockets unref'd", () => {
    const pool = open({ serverless: "lambda" });
    expect(pool.lifeguard.stats()).toMatchObject({ max: 1, min: 0 });
    expect(pool.options).toMatchObject({
      max: 1,
      idleTimeoutMillis: 0,
      connectionTimeoutMillis: 5000,
      allowExitOnIdle: true,
      prePing: { bypassWindowMillis: 10_000 },
    });
  });

  it("vercel: a few connections and the idle timeout attachDatabasePool() waits for", () => {
    const pool = open({ serverless: "vercel" });
    expect(pool.lifeguard.stats()).toMatchObject({ max: 5, min: 0 });
    // attachDatabasePool() reads pool.options.idleTimeoutMillis
    expect(pool.options.idleTimeoutMillis).toBe(5000);
    expect(pool.options).toMatchObject(serverlessPresets.vercel);
  });

  it("options given beside the preset win, under pg's names too; a prePing object is merged", () => {
    const pool = open({
      serverless: "lambda",
      // pg.Pool's old name for max, which @types/pg no longer declares
      ...({ poolSize: 3 } as object),
      acquireTimeoutMillis: 800,
      prePing: { timeoutMillis: 700 },
      allowExitOnIdle: false,
    });
    expect(pool.lifeguard.stats().max).toBe(3);
    expect(pool.options).toMatchObject({
      allowExitOnIdle: false,
      prePing: { bypassWindowMillis: 10_000, timeoutMillis: 700 },
    });
    expect(pool.options.connectionTimeoutMillis).toBeUndefined();
    const off = open({ serverless: "vercel", prePing: false });
    expect((off.options as { prePing?: unknown }).prePing).toBe(false);
  });

  it("an unknown preset is a construction error naming the allowed values", () => {
    expect(() => new Pool({ connectionString: url, serverless: "cloudflare" as "lambda" })).toThrow(
      InvalidOptionError,
    );
    expect(() => new Pool({ connectionString: url, serverless: "lamda" as "lambda" })).toThrow(
      /"serverless".*false, "lambda" or "vercel"/,
    );
  });

  it("LIFEGUARD_SERVERLESS names a preset", () => {
    expect(lifeguardConfigFromEnv({ LIFEGUARD_SERVERLESS: "vercel" })).toEqual({
      serverless: "vercel",
    });
    expect(() => lifeguardConfigFromEnv({ LIFEGUARD_SERVERLESS: "azure" })).toThrow(
      /LIFEGUARD_SERVERLESS/,
    );
  });
});
