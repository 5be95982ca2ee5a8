import { describe, expect, it } from "vitest";
import type { PoolOptions } from "../src/index.js";
import { createPool, InvalidOptionError } from "../src/index.js";
import {
  describeRule,
  lifeguardOptionKeys,
  numberOptions,
  prePingOptions,
} from "../src/internal.js";
import type { StubConnection } from "./support/stub-connector.js";
import { StubConnector } from "./support/stub-connector.js";

/** The error createPool throws for these options (fails the test when it does not throw). */
function rejectionOf(options: Record<string, unknown>): InvalidOptionError {
  try {
    createPool({ connector: new StubConnector(), ...options } as PoolOptions<StubConnection>);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toMatchObject({ code: "LIFEGUARD_INVALID_OPTION", name: "InvalidOptionError" });
    return error as InvalidOptionError;
  }
  throw new Error(`createPool accepted ${JSON.stringify(options)}`);
}

describe("option validation", () => {
  it.each([
    ["min", -1, "an integer from 0 to 10000"],
    ["min", 1.5, "an integer from 0 to 10000"],
    ["max", 0, "an integer from 1 to 10000"],
    ["max", "10", "an integer from 1 to 10000"],
    ["max", 10_001, "an integer from 1 to 10000"],
    ["acquireTimeoutMillis", 0, "an integer from 1 to 2147483647"],
    ["acquireTimeoutMillis", Number.POSITIVE_INFINITY, "an integer from 1 to 2147483647"],
    ["idleTimeoutMillis", -5, "an integer from 0 to 2147483647"],
    ["maxLifetimeSeconds", Number.NaN, "a number from 0 to 2147483.647"],
    ["lifetimeJitter", 0.6, "a number from 0 to 0.5"],
    ["maxUses", 0, "an integer of at least 1 (or Infinity)"],
    ["maxWaiting", -1, "an integer of at least 0 (or Infinity)"],
    ["leakDetectionThresholdMillis", true, "an integer from 0 to 2147483647"],
    ["shutdownTimeoutMillis", null, "an integer from 0 to 2147483647"],
  ])("%s = %s is rejected, naming the option and its range", (option, value, range) => {
    const error = rejectionOf({ [option]: value });
    expect(error.option).toBe(option);
    expect(error.message).toContain(`"${option}"`);
    expect(error.message).toContain(range);
    expect(error.message).toContain(
      `got ${typeof value === "string" ? `"${value}"` : String(value)}`,
    );
  });

  it("accepts every boundary value and Infinity where allowed", () => {
    const pool = createPool({
      connector: new StubConnector(),
      min: 0,
      max: 10_000,
      acquireTimeoutMillis: 1,
      idleTimeoutMillis: 0,
      maxLifetimeSeconds: 0,
      lifetimeJitter: 0.5,
      maxUses: Number.POSITIVE_INFINITY,
      maxWaiting: 0,
      leakDetectionThresholdMillis: 0,
      shutdownTimeoutMillis: 0,
      prePing: { bypassWindowMillis: 0, timeoutMillis: 1 },
    });
    expect(pool.stats()).toMatchObject({ min: 0, max: 10_000 });
  });

  it("applies defaults and names pools pool-<n>", () => {
    const pool = createPool({ connector: new StubConnector() });
    expect(pool.name).toMatch(/^pool-\d+$/);
    expect(pool.stats()).toMatchObject({ min: 0, max: 10 });
    expect(numberOptions.acquireTimeoutMillis.default).toBe(10_000);
    expect(numberOptions.lifetimeJitter.default).toBe(0.025);
    expect(prePingOptions.bypassWindowMillis.default).toBe(500);
    expect(prePingOptions.timeoutMillis.default).toBe(2000);
  });

  it("rejects min greater than max", () => {
    const error = rejectionOf({ min: 5, max: 2 });
    expect(error.option).toBe("min");
    expect(error.message).toContain('"max"');
    expect(error.message).toContain("5");
  });

  it("rejects unknown keys with a did-you-mean hint", () => {
    const error = rejectionOf({ idleTimeoutMilis: 1000 });
    expect(error.option).toBe("idleTimeoutMilis");
    expect(error.message).toContain('Unknown option "idleTimeoutMilis"');
    expect(error.message).toContain('Did you mean "idleTimeoutMillis"?');
    const far = rejectionOf({ poolSize: 5 });
    expect(far.message).not.toContain("Did you mean");
    expect(far.message).toContain("Allowed:");
  });

  it("checks nested prePing keys and values", () => {
    const typo = rejectionOf({ prePing: { timeoutMilis: 10 } });
    expect(typo.option).toBe("prePing.timeoutMilis");
    expect(typo.message).toContain('Did you mean "prePing.timeoutMillis"?');
    const range = rejectionOf({ prePing: { timeoutMillis: 0 } });
    expect(range.option).toBe("prePing.timeoutMillis");
    expect(range.message).toContain("an integer from 1 to 2147483647");
    const shape = rejectionOf({ prePing: true });
    expect(shape.option).toBe("prePing");
    expect(shape.message).toContain("false or an object");
    expect(rejectionOf({ prePing: [] }).option).toBe("prePing");
  });

  it("checks the connector has every member", () => {
    const { ping: _ping, ...noPing } = bind(new StubConnector());
    const missing = rejectionOf({ connector: noPing });
    expect(missing.option).toBe("connector");
    expect(missing.message).toContain('"ping" must be a function');
    expect(rejectionOf({ connector: undefined }).message).toContain(
      "connect, isBroken, ping, release, destroy, classify",
    );
    expect(() => createPool(undefined as unknown as PoolOptions<StubConnection>)).toThrow(
      InvalidOptionError,
    );
  });

  it("checks name, clock and random", () => {
    expect(rejectionOf({ name: "" }).option).toBe("name");
    expect(rejectionOf({ name: 42 }).option).toBe("name");
    expect(rejectionOf({ clock: { now: () => 0 } }).option).toBe("clock");
    expect(rejectionOf({ random: 0.5 }).option).toBe("random");
  });

  it("lists the shared option keys adapters split on", () => {
    expect([...lifeguardOptionKeys].sort()).toEqual(
      [
        "name",
        "min",
        "max",
        "acquireTimeoutMillis",
        "idleTimeoutMillis",
        "maxLifetimeSeconds",
        "lifetimeJitter",
        "maxUses",
        "maxWaiting",
        "prePing",
        "leakDetectionThresholdMillis",
        "shutdownTimeoutMillis",
      ].sort(),
    );
    expect(describeRule(numberOptions.maxWaiting)).toBe("an integer of at least 0 (or Infinity)");
  });
});

/** The stub's members as own properties (its methods live on the prototype). */
function bind(connector: StubConnector): Record<string, unknown> {
  return {
    connect: connector.connect.bind(connector),
    isBroken: connector.isBroken.bind(connector),
    ping: connector.ping.bind(connector),
    release: connector.release.bind(connector),
    destroy: connector.destroy.bind(connector),
    classify: connector.classify.bind(connector),
  };
}
