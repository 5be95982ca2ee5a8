/**
 * Pool.shared(): a module that creates its pool, re-run 50 times as a dev server's hot reload
 * does (vi.resetModules() + import), keeps one pool and a bounded number of backends; plain
 * pg.Pool opens a pool per run until the server refuses ("too many clients").
 */
import { inspect } from "node:util";
import { InvalidOptionError } from "@lifeguard/core";
import { usePrivateServer, withClient } from "@lifeguard/test-fixtures";
import type pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { sharedPoolRegistry } from "../src/hot-reload.js";
import { Pool } from "../src/index.js";

const PASSWORD = "hot-reload-Secret-9f3c";
const MAX_CONNECTIONS = 20;
const RELOADS = 50;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  vi.unstubAllEnvs();
});

async function backends(url: string, applicationName: string): Promise<number> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ n: number }>(
      "select count(*)::int as n from pg_stat_activity where application_name = $1",
      [applicationName],
    );
    return rows[0]?.n ?? -1;
  });
}

/** Re-runs the app module as a hot reload does: a fresh module graph, then import. */
async function reload(): Promise<{ pool: pg.Pool }> {
  vi.resetModules();
  return import("./fixtures/hot-reload-app.js");
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("hot reload: the module that creates the pool runs 50 times", () => {
  // a small server and a password: the registry must never hold it in clear
  const server = usePrivateServer({
    password: PASSWORD,
    serverConfig: { max_connections: MAX_CONNECTIONS },
  });

  function useApp(impl: "lifeguard" | "pg", app: string, max: number): void {
    vi.stubEnv("HOT_RELOAD_URL", server.url);
    vi.stubEnv("HOT_RELOAD_APP", app);
    vi.stubEnv("HOT_RELOAD_IMPL", impl);
    vi.stubEnv("HOT_RELOAD_MAX", String(max));
  }

  it("Pool.shared: one pool across 50 runs, backends ≤ max; a changed config replaces it and ends the old one", async () => {
    const app = "lg_hot_shared";
    useApp("lifeguard", app, 2);
    const runsBefore = (globalThis as { hotReloadRuns?: number }).hotReloadRuns ?? 0;
    const pools = new Set<pg.Pool>();
    const classes = new Set<unknown>();
    for (let i = 0; i < RELOADS; i++) {
      const { pool } = await reload();
      pools.add(pool);
      classes.add((await import("../src/index.js")).Pool);
      expect(await backends(server.url, app)).toBeLessThanOrEqual(2);
    }
    // the module really ran 50 times, each time with a fresh copy of @lifeguard/pg
    expect((globalThis as { hotReloadRuns?: number }).hotReloadRuns).toBe(runsBefore + RELOADS);
    expect(classes.size).toBe(RELOADS);
    expect(pools.size).toBe(1);
    const [first] = pools as Set<Pool>;
    cleanups.push(() => (first as Pool).end());
    expect(await backends(server.url, app)).toBe((first as Pool).totalCount);

    // an edit that changes the configuration: a new pool in the same slot, the old one ended
    useApp("lifeguard", app, 3);
    const { pool: second } = await reload();
    cleanups.push(() => second.end());
    expect(second).not.toBe(first);
    await until(() => (first as Pool).ended, "the superseded pool to end");
    expect(await backends(server.url, app)).toBe(second.totalCount);
    for (let i = 0; i < 10; i++) expect((await reload()).pool).toBe(second);

    // and an ended pool is never handed out again
    await second.end();
    const { pool: third } = await reload();
    cleanups.push(() => third.end());
    expect(third).not.toBe(second);
  });

  it("plain pg.Pool: every run opens another pool until the server says too many clients", async () => {
    const app = "lg_hot_plain";
    useApp("pg", app, 2);
    const pools: pg.Pool[] = [];
    cleanups.push(() => Promise.all(pools.map((p) => p.end().catch(() => undefined))));
    const errors: unknown[] = [];
    for (let i = 0; i < RELOADS; i++) {
      try {
        pools.push((await reload()).pool);
      } catch (error) {
        errors.push(error);
      }
    }
    expect(new Set(pools).size).toBe(pools.length);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({ code: "53300" }); // sorry, too many clients already
    expect(await backends(server.url, app).catch(() => MAX_CONNECTIONS)).toBeGreaterThan(10);
  });

  it("keeps no secret in clear: the registry holds only slots and HMAC fingerprints", async () => {
    const config = { connectionString: server.url, max: 1, name: "secrets-check" };
    const pool = Pool.shared(config, { key: "secrets-check" });
    cleanups.push(() => pool.end());
    expect(Pool.shared({ ...config }, { key: "secrets-check" })).toBe(pool);
    const registry = sharedPoolRegistry();
    const entries = [...registry.entries].map(([slot, entry]) => ({
      slot,
      fingerprint: entry.fingerprint,
    }));
    const text = `${JSON.stringify(entries)} ${inspect(entries, { depth: 5 })}`;
    for (const form of [
      PASSWORD,
      encodeURIComponent(PASSWORD),
      Buffer.from(PASSWORD).toString("base64"),
    ]) {
      expect(text).not.toContain(form);
    }
    expect(entries.some((e) => e.slot === "secrets-check")).toBe(true);
    // a changed password is a changed configuration
    const other = Pool.shared(
      { ...config, connectionString: server.url.replace(PASSWORD, "other-password") },
      { key: "secrets-check" },
    );
    cleanups.push(() => other.end());
    expect(other).not.toBe(pool);
    expect(pool.ending).toBe(true);
  });

  it("rejects a bad key before creating anything", () => {
    expect(() => Pool.shared({}, { key: "" })).toThrow(InvalidOptionError);
    expect(() => Pool.shared({}, { key: 7 as unknown as string })).toThrow(
      /"key" must be a non-empty string/,
    );
  });
});
