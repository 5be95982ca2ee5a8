/**
 * pg's options are stated once, in its option table: the constructor and the `LIFEGUARD_*`
 * variables accept and refuse the same values, with errors that name the option and what it takes.
 */
import { InvalidOptionError } from "@lifeguard/core";
import { afterEach, describe, expect, it } from "vitest";
import { lifeguardConfigFromEnv, Pool } from "../src/index.js";

const url = "postgres://app@127.0.0.1:1/app"; // never connected: every check runs before I/O
const pools: Pool[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.end();
});
function build(config: ConstructorParameters<typeof Pool>[0]): Pool {
  const pool = new Pool({ connectionString: url, ...config });
  pools.push(pool);
  return pool;
}

describe("pg's option table", () => {
  it.each(["auto", "always", "never"] as const)(
    "reset %s: accepted by the constructor and by LIFEGUARD_RESET",
    (mode) => {
      expect(() => build({ reset: mode })).not.toThrow();
      expect(lifeguardConfigFromEnv({ LIFEGUARD_RESET: mode }).reset).toBe(mode);
    },
  );

  it("an unknown reset mode is refused by both, naming the same three modes", () => {
    expect(() => build({ reset: "sometimes" as never })).toThrow(
      /"reset": expected "auto", "always" or "never"; got "sometimes"/,
    );
    expect(() => lifeguardConfigFromEnv({ LIFEGUARD_RESET: "sometimes" })).toThrow(
      /one of auto, always, never/,
    );
  });

  it("the budget's ranges are the same in the constructor and in LIFEGUARD_BUDGET_*", () => {
    for (const instances of [0, 100_001]) {
      expect(() => build({ budget: { instances } })).toThrow(InvalidOptionError);
      expect(() =>
        lifeguardConfigFromEnv({ LIFEGUARD_BUDGET_INSTANCES: String(instances) }),
      ).toThrow(/an integer from 1 to 100000/);
    }
    expect(() => build({ budget: { instances: 100_000, reserved: 1_000_000 } })).not.toThrow();
    expect(
      lifeguardConfigFromEnv({
        LIFEGUARD_BUDGET_INSTANCES: "100000",
        LIFEGUARD_BUDGET_RESERVED: "1000000",
      }).budget,
    ).toEqual({ instances: 100_000, reserved: 1_000_000 });
    expect(() => build({ budget: { instances: 2, reserved: -1 } })).toThrow(
      /"budget.reserved": "reserved" must be an integer from 0 to 1000000; got -1/,
    );
  });

  it("a non-boolean namedStatements or allowExitOnIdle names the option", () => {
    expect(() => build({ namedStatements: "no" as never })).toThrow(
      /"namedStatements": expected true or false; got "no"/,
    );
    expect(() => build({ allowExitOnIdle: 1 as never })).toThrow(
      /"allowExitOnIdle": expected true or false; got 1/,
    );
  });

  it("connectionTimeoutMillis longer than a timer can wait is clamped, as pg.Pool takes it", () => {
    expect(() => build({ connectionTimeoutMillis: 10_000_000_000 })).not.toThrow();
    expect(() => build({ connectionTimeoutMillis: -1 })).toThrow(
      /"connectionTimeoutMillis": expected an integer of at least 0; got -1/,
    );
  });
});
