/**
 * Serverless freeze/thaw, by really stopping a process (issue 19): a child holds a Lifeguard Pool
 * (serverless: 'lambda') and a plain pg.Pool with idle connections; it is stopped with SIGSTOP, the
 * server kills their backends, and on SIGCONT the child runs its queries. See docs/serverless.md.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { useTestDatabase } from "@lifeguard/test-fixtures";
import { describe, expect, it } from "vitest";
import { terminate } from "./helpers.js";

interface Outcome {
  ok: number;
  errors: string[];
}
interface Counters {
  clockLeaps: number;
  prePings: { ok: number; failed: number; timeout: number; bypassed: number };
}
interface Report {
  warm: { lifeguard: Outcome; plain: Outcome };
  before: Counters;
  lifeguard: Outcome;
  plain: Outcome;
  after: Counters;
  again: Outcome;
  afterAgain: Counters;
}

const db = useTestDatabase();
const fixture = fileURLToPath(new URL("./fixtures/freeze-thaw.ts", import.meta.url));

function nextMessage(child: ChildProcess): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    child.once("message", (m) => resolve(m as Record<string, unknown>));
    child.once("exit", (code) => reject(new Error(`child exited (${code}) before answering`)));
  });
}

/** The child is stopped (state T in /proc) rather than merely sent the signal. */
async function stopped(pid: number): Promise<void> {
  for (;;) {
    const state = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
    if (state === "T" || state === "t") return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("serverless freeze/thaw (SIGSTOP, backends killed, SIGCONT)", () => {
  it("no error reaches the application; the dead connections are found by pings sent only after the thaw; pg.Pool may hand them out", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--conditions=@lifeguard/source", fixture, db.url],
      { stdio: ["ignore", "inherit", "inherit", "ipc"] },
    );
    try {
      const ready = await nextMessage(child);
      const pids = [...(ready["lifeguardPids"] as number[]), ...(ready["plainPids"] as number[])];
      const pid = child.pid as number;
      const stoppedAt = performance.now();
      process.kill(pid, "SIGSTOP");
      await stopped(pid);
      const done = nextMessage(child);
      // the message is queued first, the backends' end after it: on thaw the child reads it first
      child.send({ type: "go" });
      await terminate(db.url, pids);
      // frozen for longer than the detection threshold can miss (2 s; see docs/serverless.md)
      const left = 2500 - (performance.now() - stoppedAt);
      if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
      process.kill(pid, "SIGCONT");
      const r = (await done) as unknown as Report;

      // before the freeze: no ping at all, every borrow inside the bypass window
      expect(r.warm.lifeguard).toEqual({ ok: 12, errors: [] });
      expect(r.before).toMatchObject({ clockLeaps: 0, prePings: { ok: 0, failed: 0, timeout: 0 } });
      expect(r.before.prePings.bypassed).toBeGreaterThan(0);
      // after the thaw: 0 errors, one leap, and the three dead connections each pinged once
      expect(r.lifeguard).toEqual({ ok: 12, errors: [] });
      // at least the freeze (a loaded machine can starve the child past one tick more); each of the
      // three idle connections pinged at least once before reuse
      expect(r.after.clockLeaps).toBeGreaterThanOrEqual(1);
      const pinged = r.after.prePings;
      expect(pinged.ok + pinged.failed + pinged.timeout).toBeGreaterThanOrEqual(3);
      expect(pinged.failed).toBeGreaterThanOrEqual(1);
      // the new connections are trusted again: no ping on ordinary borrows
      expect(r.again).toEqual({ ok: 12, errors: [] });
      expect(r.afterAgain.prePings).toMatchObject({
        ok: pinged.ok,
        failed: pinged.failed,
        timeout: pinged.timeout,
      });
      expect(r.afterAgain.prePings.bypassed).toBeGreaterThan(pinged.bypassed);
      // the same freeze, the same queries: pg.Pool lends a dead client whenever the queued request
      // is read before the sockets' end (the order after SIGCONT is the kernel's, so the count varies
      // from run to run, 0 included); every failure it has is the terminated backend's
      expect(r.plain.ok + r.plain.errors.length).toBe(12);
      for (const error of r.plain.errors) expect(error).toMatch(/terminat|Connection terminated/);
    } finally {
      if (child.exitCode === null) {
        process.kill(child.pid as number, "SIGCONT");
        child.kill();
      }
    }
  }, 60_000);
});
