import { describe, expect, it } from "vitest";
import { ConnectTimeoutError, LifeguardError, PingTimeoutError } from "../src/index.js";
import { listen, setup, track } from "./support/harness.js";
import { flush } from "./support/stub-connector.js";

// errors the pool makes itself reach users as the `cause` of others, or in events: they carry
// codes like every other Lifeguard error
describe("the pool's own timeouts are coded errors", () => {
  it("a connect slower than acquireTimeoutMillis: ConnectTimeoutError as the cause callers see", async () => {
    const { pool, connector, clock } = setup({ acquireTimeoutMillis: 100 });
    connector.mode = "manual";
    const created = listen<{ error: unknown }>("lifeguard:connection:create-error", pool);
    // the caller would wait longer than the connect may take: the connect's own deadline fires
    const acquire = track(pool.acquire({ timeoutMillis: 1000 }));
    await clock.advance(100);
    expect(acquire.status).toBe("rejected");
    const cause = (acquire.error as Error).cause;
    expect(cause).toBeInstanceOf(ConnectTimeoutError);
    expect(cause).toBeInstanceOf(LifeguardError);
    expect((cause as ConnectTimeoutError).code).toBe("LIFEGUARD_CONNECT_TIMEOUT");
    expect((cause as ConnectTimeoutError).message).toContain("connect timed out after 100 ms");
    expect(created[0]?.error).toBe(cause);
  });

  it("a pre-ping slower than prePing.timeoutMillis: PingTimeoutError in the ping event", async () => {
    const { pool, clock } = setup({ prePing: { timeoutMillis: 50, bypassWindowMillis: 0 } });
    const lease = await pool.acquire();
    const connection = lease.connection;
    lease.release();
    connection.ping = "hang";
    const pings = listen<{ result: string; error?: unknown }>("lifeguard:connection:ping", pool);
    const next = track(pool.acquire());
    await flush();
    await clock.advance(50);
    expect(pings[0]?.result).toBe("timeout");
    expect(pings[0]?.error).toBeInstanceOf(PingTimeoutError);
    expect((pings[0]?.error as PingTimeoutError | undefined)?.code).toBe("LIFEGUARD_PING_TIMEOUT");
    // the caller got a new connection inside its deadline
    expect(next.status).toBe("fulfilled");
  });
});
