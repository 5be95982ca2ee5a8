import { useTestDatabase } from "@lifeguard/test-fixtures";
import { attachDatabasePool } from "@vercel/functions";
import { drizzle as drizzleOnPgPool } from "drizzle-orm/node-postgres";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { drizzle } from "../src/index.js";

// Vercel's attachDatabasePool() recognises a pg pool by `"idleTimeoutMillis" in pool.options` and
// listens for its 'release' event; on each release it keeps the function alive (waitUntil) for the
// pool's idle timeout + 100 ms, so idle connections close before the instance is suspended.

const db = useTestDatabase();
const requestContext = Symbol.for("@vercel/request-context");
const waitUntil = vi.fn<(promise: Promise<unknown>) => void>();
const ends: (() => Promise<void>)[] = [];

beforeEach(() => {
  // what Vercel's runtime provides inside a function invocation
  vi.stubEnv("VERCEL_URL", "app.vercel.test");
  vi.stubEnv("VERCEL_REGION", "iad1");
  (globalThis as Record<symbol, unknown>)[requestContext] = { get: () => ({ waitUntil }) };
});
afterEach(async () => {
  delete (globalThis as Record<symbol, unknown>)[requestContext];
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  waitUntil.mockReset();
  for (const end of ends.splice(0)) await end();
});

type Kind = "pg.Pool (drizzle-orm/node-postgres)" | "Lifeguard Pool (@lifeguard/drizzle)";
const kinds: Kind[] = [
  "pg.Pool (drizzle-orm/node-postgres)",
  "Lifeguard Pool (@lifeguard/drizzle)",
];

function open(kind: Kind, idleTimeoutMillis?: number) {
  const options = idleTimeoutMillis === undefined ? {} : { idleTimeoutMillis };
  const orm =
    kind === "Lifeguard Pool (@lifeguard/drizzle)"
      ? drizzle({ connection: db.url, pool: { max: 2, ...options } })
      : drizzleOnPgPool({ connection: { connectionString: db.url, max: 2, ...options } });
  ends.push(() => orm.$client.end());
  return orm;
}

/** The delays Vercel's idle-timeout timer was set with. */
function spyOnTimers(): () => number[] {
  const spy = vi.spyOn(globalThis, "setTimeout");
  return () => spy.mock.calls.map((call) => call[1] as number);
}

describe.each(kinds)("attachDatabasePool(%s)", (kind) => {
  it("recognises the pool and keeps the function alive for its idle timeout after a release", async () => {
    const orm = open(kind, 4321);
    expect(() => attachDatabasePool(orm.$client)).not.toThrow();
    const delays = spyOnTimers();
    expect(await orm.$client.query("select 1 as one")).toMatchObject({ rows: [{ one: 1 }] });
    await vi.waitFor(() => expect(waitUntil).toHaveBeenCalledTimes(1));
    expect(waitUntil.mock.calls[0]?.[0]).toBeInstanceOf(Promise);
    expect(delays()).toContain(4321 + 100);
  });

  it("with the default idle timeout (10 s), on a release by Drizzle's transaction", async () => {
    const orm = open(kind);
    attachDatabasePool(orm.$client);
    const delays = spyOnTimers();
    await orm.transaction(async (tx) => {
      await tx.execute("select 1");
    });
    await vi.waitFor(() => expect(waitUntil).toHaveBeenCalledTimes(1));
    expect(delays()).toContain(10_000 + 100);
  });
});
