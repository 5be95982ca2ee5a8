import { InvalidOptionError } from "@lifeguard/core";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
// the examples are workspace packages of their own (examples/*): imported by path, as a user's
// services would import the shared config by name
import { ordersDatabase } from "../../../examples/orders-service/src/index.js";
import { reportsDatabase } from "../../../examples/reports-service/src/index.js";

const db = useTestDatabase();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  vi.restoreAllMocks();
});

describe("examples/shared-config: one configuration, two services", () => {
  it("both services run on the shared settings, each under its own pool name", async () => {
    vi.spyOn(process, "emitWarning").mockImplementation(() => undefined); // the budget may warn
    const orders = ordersDatabase(db.url, {});
    const reports = reportsDatabase(db.url, {});
    cleanups.push(
      () => orders.end(),
      () => reports.$client.end(),
    );
    await expect(orders.query("select 1 as one")).resolves.toMatchObject({ rows: [{ one: 1 }] });
    await expect(reports.execute(sql`select 2 as two`)).resolves.toMatchObject({
      rows: [{ two: 2 }],
    });
    expect(orders.stats()).toMatchObject({ name: "orders", max: 10 });
    expect(reports.$client.stats()).toMatchObject({ name: "reports", max: 10 });
  });

  it("a deployment overrides one setting with LIFEGUARD_* and a bad value fails at start-up", () => {
    const env = { LIFEGUARD_MAX: "30" };
    const orders = ordersDatabase(db.url, env);
    cleanups.push(() => orders.end());
    expect(orders.stats().max).toBe(30);
    expect(() => reportsDatabase(db.url, { LIFEGUARD_MAX: "lots" })).toThrow(InvalidOptionError);
    expect(() => reportsDatabase(db.url, { LIFEGUARD_MAX: "lots" })).toThrow(
      'Invalid environment variable LIFEGUARD_MAX="lots": expected an integer from 1 to 10000',
    );
  });
});
