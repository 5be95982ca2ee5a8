import { inspect } from "node:util";
import { DatabaseUnavailableError } from "@lifeguard/core";
import { usePrivateServer } from "@lifeguard/test-fixtures";
import { afterEach, describe, expect, it } from "vitest";
import { Pool } from "../src/index.js";

const PASSWORD = "Lg-s3cret-Pa55word";
const server = usePrivateServer({ password: PASSWORD });
const pools: Pool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.end();
});

function everything(value: unknown): string {
  return `${inspect(value, { depth: 8, showHidden: false })}\n${JSON.stringify(value) ?? ""}`;
}

describe("wrong credentials", () => {
  it("fail fast with the server's message and no password anywhere", async () => {
    const wrong = "Wr0ng-Passw0rd-xyz";
    const pool = new Pool({
      host: server.host,
      port: server.port,
      user: "postgres",
      password: wrong,
      database: "postgres",
    });
    pools.push(pool);
    const error = (await pool
      .query("select 1")
      .catch((e: unknown) => e)) as DatabaseUnavailableError;
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error.message).toMatch(/password authentication failed for user "postgres"/);
    expect((error.cause as { code?: string }).code).toBe("28P01");
    for (const text of [error.message, error.stack, everything(error), everything(error.cause)]) {
      expect(text).not.toContain(wrong);
    }
    // no waiting on a deadline: the second caller fails at once too
    await expect(pool.query("select 1")).rejects.toBeInstanceOf(DatabaseUnavailableError);
  });

  it("with a password in the connection string", async () => {
    const url = new URL(server.url);
    url.password = "Wr0ng-In-Url-123";
    const pool = new Pool({ connectionString: url.toString() });
    pools.push(pool);
    const error = (await pool.query("select 1").catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/password authentication failed/);
    expect(everything(error)).not.toContain("Wr0ng-In-Url-123");
    expect(everything(pool)).not.toContain("Wr0ng-In-Url-123");
  });
});

describe("the right password", () => {
  it("is never enumerable or printed by the pool, its clients or its stats", async () => {
    const pool = new Pool({ connectionString: server.url });
    pools.push(pool);
    const client = await pool.connect();
    await client.query("select 1");
    for (const text of [
      everything(pool),
      everything(pool.options),
      everything(pool.stats()),
      everything(Object.keys(client)),
    ]) {
      expect(text).not.toContain(PASSWORD);
    }
    expect(Object.keys(pool.options)).not.toContain("password");
    client.release();
  });
});
