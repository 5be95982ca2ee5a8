import { describe, expect, it } from "vitest";
import { LeaseReleasedError, PoolClosedError } from "../src/index.js";
import { setup, track } from "./support/harness.js";
import { flush, StubConnectionError, StubConnector } from "./support/stub-connector.js";

describe("acquire and release", () => {
  it("opens a connection on demand and reuses it after release", async () => {
    const { pool, connector } = setup();
    const lease = await pool.acquire();
    expect(connector.opened).toHaveLength(1);
    expect(lease.connection).toBe(connector.opened[0]);
    expect(pool.stats()).toMatchObject({ total: 1, idle: 0, used: 1, leased: 1, pending: 0 });
    lease.release();
    expect(lease.released).toBe(true);
    expect(pool.stats()).toMatchObject({ total: 1, idle: 1, used: 0 });
    const again = await pool.acquire();
    expect(again.connection).toBe(lease.connection);
    expect(connector.connectAttempts).toBe(1);
    expect(pool.stats().counters).toMatchObject({ acquires: 2, releases: 1, creates: 1 });
  });

  it("throws LeaseReleasedError on a second release and keeps the connection with its new holder", async () => {
    const { pool } = setup({ max: 1 });
    const first = await pool.acquire();
    first.release();
    const second = await pool.acquire();
    expect(second.connection).toBe(first.connection);
    expect(() => first.release()).toThrow(LeaseReleasedError);
    expect(second.released).toBe(false);
    expect(pool.stats()).toMatchObject({ leased: 1, idle: 0 });
    second.release();
    expect(() => second.release()).toThrowError(
      expect.objectContaining({ code: "LIFEGUARD_LEASE_RELEASED" }),
    );
  });

  it("release({ destroy: true }) closes the connection", async () => {
    const { pool, connector } = setup();
    const lease = await pool.acquire();
    lease.release({ destroy: true });
    await flush();
    expect(lease.connection.destroyed).toBe(true);
    expect(pool.stats()).toMatchObject({ total: 0, idle: 0 });
    expect(pool.stats().counters.destroys["released-destroy"]).toBe(1);
    expect(connector.releaseInfos).toHaveLength(0); // no point cleaning a session about to close
  });

  it("lets the connector clean the session, and closes the connection when it cannot", async () => {
    const { pool, connector } = setup();
    const a = await pool.acquire();
    connector.releaseMode = "destroy";
    a.release();
    await flush();
    expect(a.connection.releases).toBe(1);
    expect(a.connection.destroyed).toBe(true);
    expect(pool.stats().counters.destroys["reset-failed"]).toBe(1);

    connector.releaseMode = "throw";
    const b = await pool.acquire();
    expect(b.connection).not.toBe(a.connection);
    b.release();
    await flush();
    expect(b.connection.destroyed).toBe(true);
    expect(pool.stats().counters.destroys["reset-failed"]).toBe(2);
    expect(pool.stats().total).toBe(0);
  });

  it("waits for an asynchronous clean-up before lending the connection again", async () => {
    const { pool, connector } = setup({ max: 1 });
    connector.releaseMode = "async";
    const a = await pool.acquire();
    a.release();
    expect(pool.stats()).toMatchObject({ total: 1, idle: 0, releasing: 1 });
    const waiting = track(pool.acquire());
    await flush();
    expect(waiting.status).toBe("pending");
    expect(connector.connectAttempts).toBe(1); // max 1: the releasing one is the supply
    connector.finishRelease("keep");
    await flush();
    expect(waiting.status).toBe("fulfilled");
    expect(waiting.value?.connection).toBe(a.connection);

    // a rejected clean-up closes it, and the next caller gets a fresh one
    waiting.value?.release();
    const next = track(pool.acquire());
    connector.pendingReleases.shift()?.reject(new Error("reset failed"));
    await flush();
    expect(a.connection.destroyed).toBe(true);
    expect(next.status).toBe("fulfilled");
    expect(next.value?.connection).not.toBe(a.connection);
  });

  it("tells the connector which connection it is cleaning", async () => {
    const { pool, connector } = setup();
    const a = await pool.acquire();
    a.release();
    const b = await pool.acquire();
    b.release();
    expect(connector.releaseInfos).toEqual([
      expect.objectContaining({ id: 1, uses: 1, acquireStack: undefined }),
      expect.objectContaining({ id: 1, uses: 2, acquireStack: undefined }),
    ]);
  });

  it("passes the acquire stack to the connector's release when leak detection is on", async () => {
    const { pool, connector } = setup({ leakDetectionThresholdMillis: 60_000 });
    async function borrowForSessionCleanup() {
      return pool.acquire();
    }
    const lease = await borrowForSessionCleanup();
    lease.release();
    expect(connector.releaseInfos[0]?.acquireStack).toContain("borrowForSessionCleanup");
  });
});

describe("a connector that throws", () => {
  it("classify() throwing closes that connection instead of leaking its slot", async () => {
    const { pool, connector } = setup({ max: 1 });
    const other = await pool.acquire();
    other.release();
    connector.classify = () => {
      throw new Error("classifier bug");
    };
    const lease = await pool.acquire();
    expect(() => lease.release({ error: new Error("whatever") })).not.toThrow();
    await flush();
    expect(lease.connection.destroyed).toBe(true);
    expect(pool.stats()).toMatchObject({ total: 0, leased: 0 });
    // max 1: the slot is free again
    expect((await pool.acquire()).connection.id).toBe(2);
  });

  it("isBroken() throwing counts as broken", async () => {
    const { pool, connector } = setup();
    (await pool.acquire()).release();
    connector.isBroken = (connection) => {
      if (connection.id === 1) throw new Error("socket state unreadable");
      return false;
    };
    const lease = await pool.acquire();
    expect(lease.connection.id).toBe(2);
    expect(pool.stats().counters.destroys.broken).toBe(1);
  });
});

describe("use()", () => {
  it("returns what fn returns and releases the connection", async () => {
    const { pool } = setup();
    const result = await pool.use((connection) => {
      expect(pool.stats().leased).toBe(1);
      return `got ${connection.id}`;
    });
    expect(result).toBe("got 1");
    expect(pool.stats()).toMatchObject({ idle: 1, leased: 0 });
  });

  it("rethrows fn's error, keeping the connection for a statement error", async () => {
    const { pool } = setup();
    const boom = new Error("syntax error at or near");
    await expect(
      pool.use(async () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    await flush();
    expect(pool.stats()).toMatchObject({ total: 1, idle: 1 });
  });

  it("rethrows fn's error, closing the connection for a connection error", async () => {
    const { pool, connector } = setup();
    const dead = new StubConnectionError("terminating connection due to administrator command");
    await expect(
      pool.use(() => {
        throw dead;
      }),
    ).rejects.toBe(dead);
    await flush();
    expect(connector.opened[0]?.destroyed).toBe(true);
    expect(pool.stats()).toMatchObject({ total: 0 });
    expect(pool.stats().counters.destroys.error).toBe(1);
  });

  it("passes acquire options through (deadline)", async () => {
    const { pool, clock } = setup({ max: 1 });
    const held = await pool.acquire();
    const result = track(pool.use(() => "never", { timeoutMillis: 100 }));
    await clock.advance(100);
    expect(result.status).toBe("rejected");
    expect(result.error).toMatchObject({ code: "LIFEGUARD_ACQUIRE_TIMEOUT" });
    held.release();
  });
});

describe("await using", () => {
  it("releases a lease at the end of the block", async () => {
    const { pool } = setup();
    let connectionId = 0;
    {
      await using lease = await pool.acquire();
      connectionId = lease.connection.id;
      expect(pool.stats().leased).toBe(1);
    }
    expect(connectionId).toBe(1);
    expect(pool.stats()).toMatchObject({ leased: 0, idle: 1 });
  });

  it("does not throw when the lease was already released inside the block", async () => {
    const { pool } = setup();
    {
      await using lease = await pool.acquire();
      lease.release();
    }
    expect(pool.stats().counters.releases).toBe(1);
  });

  it("closes the pool at the end of the block", async () => {
    const { connector, clock } = setup();
    let captured: ReturnType<typeof setup>["pool"] | undefined;
    {
      await using pool = setup({ connector, clock, min: 2 }).pool;
      captured = pool;
      await pool.warmup();
      expect(connector.live).toHaveLength(2);
    }
    expect(captured.state).toBe("closed");
    expect(connector.live).toHaveLength(0);
    await expect(captured.acquire()).rejects.toBeInstanceOf(PoolClosedError);
  });
});

describe("warm minimum", () => {
  it("opens min connections at start and keeps them through idle timeouts", async () => {
    const { pool, connector, clock } = setup({ min: 2, idleTimeoutMillis: 1000 });
    await flush();
    expect(connector.connectAttempts).toBe(2);
    expect(pool.stats()).toMatchObject({ total: 2, idle: 2 });
    await clock.advance(30_000);
    expect(pool.stats()).toMatchObject({ total: 2, idle: 2 });
    expect(connector.connectAttempts).toBe(2);
  });

  it("warmup() resolves once min connections are open", async () => {
    const connector = manualConnector();
    const { pool } = setup({ min: 2, connector });
    const warm = track(pool.warmup());
    await flush();
    expect(connector.pendingConnects).toHaveLength(2);
    connector.finishConnect();
    await flush();
    expect(warm.status).toBe("pending");
    connector.finishConnect();
    await flush();
    expect(warm.status).toBe("fulfilled");
    expect(pool.stats()).toMatchObject({ total: 2, idle: 2 });
    // already warm: resolves at once, without opening more
    await expect(pool.warmup()).resolves.toBeUndefined();
    expect(connector.connectAttempts).toBe(2);
  });

  it("warmup() rejects with the connect error", async () => {
    const connector = manualConnector();
    const { pool } = setup({ min: 1, connector });
    const warm = track(pool.warmup());
    const refused = new Error("connect ECONNREFUSED 10.0.0.1:5432");
    connector.failConnect(refused);
    await flush();
    expect(warm.status).toBe("rejected");
    expect(warm.error).toBe(refused);
  });

  it("warmup() resolves at once when min is 0", async () => {
    const { pool, connector } = setup();
    await expect(pool.warmup()).resolves.toBeUndefined();
    expect(connector.connectAttempts).toBe(0);
  });
});

function manualConnector(): StubConnector {
  const connector = new StubConnector();
  connector.mode = "manual";
  return connector;
}
