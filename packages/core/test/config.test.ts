import { describe, expect, it } from "vitest";
import {
  createPool,
  defineLifeguardConfig,
  InvalidOptionError,
  lifeguardConfigFromEnv,
} from "../src/index.js";
import { envName, lifeguardEnvSchema, numberOptions } from "../src/internal.js";
import { StubConnector } from "./support/stub-connector.js";

describe("lifeguardConfigFromEnv", () => {
  it("reads every core option, nested pre-ping ones included", () => {
    const config = lifeguardConfigFromEnv({
      LIFEGUARD_NAME: "orders",
      LIFEGUARD_MAX: "20",
      LIFEGUARD_MIN: "2",
      LIFEGUARD_MAX_LIFETIME_SECONDS: "900.5",
      LIFEGUARD_MAX_USES: "Infinity",
      LIFEGUARD_PRE_PING_BYPASS_WINDOW_MILLIS: "250",
      LIFEGUARD_PRE_PING_TIMEOUT_MILLIS: "1500",
      PATH: "/usr/bin",
    });
    expect(config).toEqual({
      name: "orders",
      max: 20,
      min: 2,
      maxLifetimeSeconds: 900.5,
      maxUses: Number.POSITIVE_INFINITY,
      prePing: { bypassWindowMillis: 250, timeoutMillis: 1500 },
    });
    // and the result is accepted by the pool as is
    expect(createPool({ connector: new StubConnector(), ...config }).stats().max).toBe(20);
  });

  it("has a variable for every numeric option", () => {
    for (const key of Object.keys(numberOptions)) {
      expect(lifeguardEnvSchema[envName([key])]).toMatchObject({ type: "number", path: [key] });
    }
    expect(envName(["prePing", "bypassWindowMillis"])).toBe("PRE_PING_BYPASS_WINDOW_MILLIS");
  });

  it("turns pre-ping off with LIFEGUARD_PRE_PING=false", () => {
    expect(lifeguardConfigFromEnv({ LIFEGUARD_PRE_PING: "false" })).toEqual({ prePing: false });
    expect(lifeguardConfigFromEnv({ LIFEGUARD_PRE_PING: "true" })).toEqual({});
  });

  it.each([
    ["LIFEGUARD_MAX", "abc", /LIFEGUARD_MAX="abc": expected an integer from 1 to 10000/],
    ["LIFEGUARD_MAX", "0", /LIFEGUARD_MAX="0": expected an integer from 1 to 10000/],
    ["LIFEGUARD_MAX", "", /LIFEGUARD_MAX="": expected an integer/],
    ["LIFEGUARD_LIFETIME_JITTER", "0.9", /from 0 to 0.5/],
    ["LIFEGUARD_IDLE_TIMEOUT_MILLIS", "1.5", /an integer/],
    ["LIFEGUARD_PRE_PING", "maybe", /"false" \(to turn it off\) or "true"/],
  ])("rejects %s=%j naming the variable and the allowed range", (variable, value, message) => {
    const error = (() => {
      try {
        lifeguardConfigFromEnv({ [variable]: value });
      } catch (e) {
        return e;
      }
      return undefined;
    })() as InvalidOptionError;
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error.code).toBe("LIFEGUARD_INVALID_OPTION");
    expect(error.option).toBe(variable);
    expect(error.message).toMatch(message);
  });

  it("rejects an unknown variable with the prefix, suggesting the closest", () => {
    expect(() => lifeguardConfigFromEnv({ LIFEGUARD_MAXX: "3" })).toThrow(
      /Unknown option "LIFEGUARD_MAXX".*Did you mean "LIFEGUARD_MAX"/,
    );
    expect(lifeguardConfigFromEnv({ LIFEGUARD_MAXX: "3" }, { unknown: "ignore" })).toEqual({});
  });

  it("rejects pre-ping turned off and tuned at once", () => {
    expect(() =>
      lifeguardConfigFromEnv({
        LIFEGUARD_PRE_PING: "false",
        LIFEGUARD_PRE_PING_TIMEOUT_MILLIS: "10",
      }),
    ).toThrow(/turns "prePing" off/);
  });

  it("honours another prefix", () => {
    expect(
      lifeguardConfigFromEnv({ DB_POOL_MAX: "7", LIFEGUARD_MAX: "9" }, { prefix: "DB_POOL_" }),
    ).toEqual({ max: 7 });
  });
});

describe("defineLifeguardConfig", () => {
  it("returns the same object, typed", () => {
    const config = { max: 5, prePing: false } as const;
    const defined = defineLifeguardConfig(config);
    expect(defined).toBe(config);
    expect(createPool({ connector: new StubConnector(), ...defined }).stats().max).toBe(5);
  });
});
