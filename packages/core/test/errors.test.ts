import { describe, expect, it, vi } from "vitest";
import type { LifeguardErrorCode, PoolStats } from "../src/index.js";
import {
  AcquireAbortedError,
  AcquireTimeoutError,
  DatabaseUnavailableError,
  InvalidOptionError,
  LeaseReleasedError,
  LifeguardError,
  PoolClosedError,
  PoolQueueFullError,
} from "../src/index.js";
import { setup } from "./support/harness.js";

const stats = (): PoolStats => setup({ name: "errs", max: 3 }).pool.stats();

const samples = (): [LifeguardError, string, LifeguardErrorCode][] => [
  [
    new AcquireTimeoutError(10, stats(), undefined),
    "AcquireTimeoutError",
    "LIFEGUARD_ACQUIRE_TIMEOUT",
  ],
  [new AcquireAbortedError("p", "why"), "AbortError", "LIFEGUARD_ACQUIRE_ABORTED"],
  [new PoolQueueFullError("p", 5), "PoolQueueFullError", "LIFEGUARD_QUEUE_FULL"],
  [
    new DatabaseUnavailableError("p", new Error("down"), 10),
    "DatabaseUnavailableError",
    "LIFEGUARD_DB_UNAVAILABLE",
  ],
  [new PoolClosedError("p"), "PoolClosedError", "LIFEGUARD_POOL_CLOSED"],
  [new InvalidOptionError("max", "bad"), "InvalidOptionError", "LIFEGUARD_INVALID_OPTION"],
  [new LeaseReleasedError("p"), "LeaseReleasedError", "LIFEGUARD_LEASE_RELEASED"],
];

describe("error classes", () => {
  it("carry a stable code and name and are Errors", () => {
    for (const [error, name, code] of samples()) {
      expect(error).toBeInstanceOf(Error);
      expect(error).toBeInstanceOf(LifeguardError);
      expect(error.name).toBe(name);
      expect(error.code).toBe(code);
      expect(error.stack).toContain(name === "AbortError" ? "AbortError" : name);
    }
  });

  it("instanceof tells the classes apart", () => {
    const all = samples().map(([error]) => error);
    const classes = [
      AcquireTimeoutError,
      AcquireAbortedError,
      PoolQueueFullError,
      DatabaseUnavailableError,
      PoolClosedError,
      InvalidOptionError,
      LeaseReleasedError,
    ];
    classes.forEach((cls, i) => {
      all.forEach((error, j) => {
        expect(error instanceof cls, `${error.name} instanceof ${cls.name}`).toBe(i === j);
      });
    });
    expect(new Error("plain") instanceof LifeguardError).toBe(false);
    expect({ code: "LIFEGUARD_POOL_CLOSED" } instanceof PoolClosedError).toBe(false);
    expect((null as unknown as object) instanceof LifeguardError).toBe(false);
  });

  it("instanceof works for an error from another copy of the package (the Symbol.for brand)", () => {
    const brand = Symbol.for("lifeguard.error.code");
    const foreign = Object.assign(new Error("from the CommonJS build"), {
      [brand]: "LIFEGUARD_POOL_CLOSED",
    });
    expect(foreign instanceof PoolClosedError).toBe(true);
    expect(foreign instanceof LifeguardError).toBe(true);
    expect(foreign instanceof AcquireTimeoutError).toBe(false);
  });

  it("instanceof works across two real module instances", async () => {
    vi.resetModules();
    const copy = await import("../src/errors.js");
    expect(copy.PoolClosedError).not.toBe(PoolClosedError); // a genuinely separate class
    const theirs = new copy.PoolClosedError("p");
    expect(theirs instanceof PoolClosedError).toBe(true);
    expect(theirs instanceof LifeguardError).toBe(true);
    expect(theirs instanceof PoolQueueFullError).toBe(false);
    expect(new PoolClosedError("p") instanceof copy.PoolClosedError).toBe(true);
    expect(new PoolClosedError("p") instanceof copy.AcquireTimeoutError).toBe(false);
  });

  it("AcquireTimeoutError explains itself", () => {
    const busy = new AcquireTimeoutError(1234.4, { ...stats(), total: 3, used: 3 }, undefined);
    expect(busy.message).toContain("1234 ms");
    expect(busy.message).toContain("total=3, idle=0, used=3, pending=0, max=3");
    expect(busy.message).toContain("raise `max`");
    expect(busy.cause).toBeUndefined();
    const refused = new Error("connect ECONNREFUSED");
    const failing = new AcquireTimeoutError(10, stats(), refused);
    expect(failing.cause).toBe(refused);
    expect(failing.message).toContain("last error: connect ECONNREFUSED");
  });

  it("DatabaseUnavailableError and AcquireAbortedError keep their cause", () => {
    const down = new Error("the database system is starting up");
    expect(new DatabaseUnavailableError("p", down, 5).cause).toBe(down);
    expect(new DatabaseUnavailableError("p", "string reason", 5).message).toContain(
      "string reason",
    );
    expect(new AcquireAbortedError("p", "user left").cause).toBe("user left");
  });
});
