/**
 * What an open connection keeps alive. Found by the idle-memory benchmark: the callback a
 * connector keeps for `connectionLost` closed over the connect attempt, so every open connection
 * held its finished attempt, its deadline and its AbortController (with the signal's listener
 * map) for its whole life, about 0.5 KB each.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import type { ConnectContext, Connector } from "../src/index.js";
import { createPool, ManualClock } from "../src/index.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Keeps what a real driver keeps (the lost-callback, for the connection's life), nothing else. */
class KeepingConnector implements Connector<{ lost: () => void }> {
  readonly signals: WeakRef<AbortSignal>[] = [];
  readonly open: { lost: () => void }[] = [];
  async connect(context: ConnectContext) {
    this.signals.push(new WeakRef(context.signal));
    const { connectionLost } = context;
    const connection = { lost: () => connectionLost() };
    this.open.push(connection);
    return connection;
  }
  isBroken() {
    return false;
  }
  async ping() {}
  async release() {
    return "keep" as const;
  }
  async destroy() {}
  classify() {
    return "connection" as const;
  }
}

describe("an open connection", () => {
  it("does not keep its connect attempt's AbortSignal alive", async () => {
    const connector = new KeepingConnector();
    const pool = createPool({ connector, max: 5, min: 0, clock: new ManualClock() });
    const leases = await Promise.all(Array.from({ length: 5 }, () => pool.acquire()));
    for (const lease of leases) lease.release();
    leases.length = 0;
    // WeakRef targets live at least until the current job ends
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(connector.open).toHaveLength(5);
    expect(pool.stats().idle).toBe(5);
    const alive = connector.signals.filter((ref) => ref.deref() !== undefined).length;
    expect(alive).toBe(0);
    // and the callback still works: a lost idle connection leaves the pool
    connector.open[0]?.lost();
    expect(pool.stats().total).toBe(4);
    await pool.close({ timeoutMillis: 0 });
  });
});
