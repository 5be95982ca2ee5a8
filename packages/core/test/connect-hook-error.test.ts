import { describe, expect, it } from "vitest";
import { DatabaseUnavailableError } from "../src/index.js";
import { HOUSEKEEPING_INTERVAL_MILLIS } from "../src/internal.js";
import { listen, setup, track } from "./support/harness.js";
import { flush, StubConnector, StubStatementError } from "./support/stub-connector.js";

// A connect that rejects with an error the connector classifies as 'statement' (an onConnect or
// verify hook that threw) is the application's error, not the database being down.
describe("connect rejected with the application's error", () => {
  it("rejects the acquire that asked with that error, with no backoff and no circuit", async () => {
    const { pool, connector } = setup();
    const hookError = new StubStatementError("onConnect: set role failed");
    connector.failure = hookError;
    connector.mode = "fail";
    const failures = listen<{ failures: number; retryInMillis: number }>(
      "lifeguard:connection:create-error",
      pool,
    );

    const first = track(pool.acquire());
    await flush();
    expect(first.status).toBe("rejected");
    expect(first.error).toBe(hookError);
    expect(pool.stats().circuit).toBe("closed");

    // every acquire calls connect again, and fails with the hook's error, never fast-fails
    const second = track(pool.acquire());
    await flush();
    expect(second.error).toBe(hookError);
    expect(second.error).not.toBeInstanceOf(DatabaseUnavailableError);
    expect(connector.connectAttempts).toBe(2);
    expect(pool.stats().counters.unavailable).toBe(0);
    expect(failures.map((f) => [f.failures, f.retryInMillis])).toEqual([
      [0, 0],
      [0, 0],
    ]);

    // the hook succeeds again: the next acquire connects at once (no backoff delay to wait out)
    connector.mode = "ok";
    const third = track(pool.acquire());
    await flush();
    expect(third.status).toBe("fulfilled");
    expect(pool.stats()).toMatchObject({ total: 1, circuit: "closed" });
  });

  it("fails only the oldest waiter per failed connect; the others get the next connections", async () => {
    const { pool, connector } = setup({ max: 1 });
    connector.mode = "manual";
    const a = track(pool.acquire());
    const b = track(pool.acquire());
    await flush();
    const hookError = new StubStatementError("verify failed");
    connector.failConnect(hookError);
    await flush();
    expect(a.error).toBe(hookError);
    expect(b.status).toBe("pending");
    connector.finishConnect();
    await flush();
    expect(b.status).toBe("fulfilled");
  });

  it("keeping min: does not retry in a loop without a caller, only on the housekeeping tick", async () => {
    const connector = new StubConnector();
    connector.failure = new StubStatementError("onConnect failed");
    connector.mode = "fail";
    const { pool, clock } = setup({ min: 1, connector });
    await flush();
    expect(connector.connectAttempts).toBe(1);
    await clock.advance(HOUSEKEEPING_INTERVAL_MILLIS);
    expect(connector.connectAttempts).toBe(2);
    connector.mode = "ok";
    await clock.advance(HOUSEKEEPING_INTERVAL_MILLIS);
    expect(pool.stats()).toMatchObject({ total: 1, circuit: "closed" });
  });

  it("still treats the database's own connect errors as unavailability", async () => {
    const { pool, connector } = setup();
    connector.mode = "fail"; // the stub's default failure: ECONNREFUSED
    const first = track(pool.acquire());
    await flush();
    expect(first.error).toBeInstanceOf(DatabaseUnavailableError);
    expect(pool.stats().circuit).toBe("open");
  });
});
