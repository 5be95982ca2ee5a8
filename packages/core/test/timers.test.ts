import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { TimerHandle } from "../src/index.js";
import { ManualClock } from "../src/index.js";
import { HOUSEKEEPING_INTERVAL_MILLIS } from "../src/internal.js";
import { listen, setup, track } from "./support/harness.js";
import { flush, StubConnector } from "./support/stub-connector.js";

/** A manual clock whose handles have `unref()`, counting how many timers were unref'd. */
class UnrefCountingClock extends ManualClock {
  armed = 0;
  unrefed = 0;
  override setTimeout(callback: () => void, delayMillis: number): TimerHandle {
    const handle = super.setTimeout(callback, delayMillis) as object;
    this.armed++;
    return Object.assign(handle, {
      unref: () => {
        this.unrefed++;
      },
    });
  }
}

describe("one timer per pool", () => {
  it("keeps at most one timer armed, however many deadlines it tracks", async () => {
    const clock = new ManualClock();
    const connector = new StubConnector();
    const { pool } = setup({
      clock,
      connector,
      max: 3,
      min: 1,
      leakDetectionThresholdMillis: 700,
      prePing: { timeoutMillis: 300, bypassWindowMillis: 100 },
      idleTimeoutMillis: 2000,
      maxLifetimeSeconds: 30,
    });
    listen("lifeguard:pool:leak", pool); // leaks become events, not process warnings
    const check = (step: string) => expect(clock.pendingTimers, step).toBeLessThanOrEqual(1);
    check("created");
    await pool.warmup();
    const held = [await pool.acquire(), await pool.acquire(), await pool.acquire()];
    check("three leases watched for leaks");
    const waiters = [100, 250, 400, 900].map((t) => track(pool.acquire({ timeoutMillis: t })));
    check("four waiter deadlines");
    await clock.advance(150);
    check("after the first deadline");
    held[0]?.release();
    held[1]?.release({ destroy: true });
    await clock.advance(500);
    check("after releases and a connect");
    connector.mode = "fail";
    held[2]?.release({ destroy: true });
    for (const c of connector.live) c.broken = true;
    await clock.advance(50);
    check("backing off");
    for (let i = 0; i < 20; i++) {
      await clock.advance(373);
      check(`tick ${i}`);
    }
    connector.mode = "ok";
    await clock.advance(10_000);
    check("recovered");
    expect(waiters.every((w) => w.status !== "pending")).toBe(true);
    expect(clock.pendingTimers).toBe(1); // housekeeping stays armed while the pool is open
    for (const w of waiters) w.value?.release();
    await pool.close();
    expect(clock.pendingTimers).toBe(0);
  });

  it("unrefs every timer it arms outside close()", async () => {
    const clock = new UnrefCountingClock();
    const { pool } = setup({ clock, min: 1, leakDetectionThresholdMillis: 100 });
    listen("lifeguard:pool:leak", pool);
    await pool.warmup();
    const lease = await pool.acquire();
    const waiter = track(pool.acquire({ timeoutMillis: 50 }));
    await clock.advance(5 * HOUSEKEEPING_INTERVAL_MILLIS);
    lease.release();
    expect(waiter.status).toBe("fulfilled");
    expect(clock.armed).toBeGreaterThanOrEqual(5);
    expect(clock.unrefed).toBe(clock.armed);
  });

  it("lets the process exit on its own while idle connections and housekeeping are armed", async () => {
    const fixture = fileURLToPath(new URL("./fixtures/idle-exit.ts", import.meta.url));
    const cwd = fileURLToPath(new URL("..", import.meta.url));
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--conditions=@lifeguard/source", fixture],
      { cwd, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // a guard, not a measurement: a pool that keeps the process alive would hang here forever
    const guard = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
      child.on("exit", (c, s) => resolve([c, s]));
    });
    clearTimeout(guard);
    await flush();
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: "" });
    expect(stdout).toBe("idle=2 total=2 state=open\ntimers=1 unref=true\nexit 0\n");
  });
});
