/**
 * pool.listen(): a LISTEN connection outside the lending pool that heals. On the shared server:
 * delivery, quoting, unlisten, validation, close. On a private server: a stream of NOTIFYs while
 * the listener's backend is terminated and the server restarted, beside a plain pg.Client LISTEN.
 */
import { InvalidOptionError, PoolClosedError } from "@lifeguard/core";
import { usePrivateServer, useTestDatabase, withClient } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import type { ListenGap, ListenNotification } from "../src/index.js";
import { ListenTimeoutError, Pool } from "../src/index.js";
import { terminate } from "./helpers.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track<T extends { end(): Promise<void> }>(closeable: T): T {
  cleanups.push(() => closeable.end());
  return closeable;
}

/** Polls until `condition()` holds; fails the test (instead of hanging) after `limitMillis`. */
async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  limitMillis = 20_000,
) {
  const deadline = Date.now() + limitMillis;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function backendPids(url: string, applicationName: string): Promise<number[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ pid: number }>(
      "select pid from pg_stat_activity where application_name = $1",
      [applicationName],
    );
    return rows.map((r) => r.pid);
  });
}

async function notify(url: string, channel: string, payload: string): Promise<void> {
  await withClient(url, (client) => client.query("select pg_notify($1, $2)", [channel, payload]));
}

describe("pool.listen() on the shared server", () => {
  const db = useTestDatabase();

  it("delivers notifications on channels that need quoting, and a channel name is never SQL", async () => {
    const pool = track(new Pool({ connectionString: db.url }));
    await withClient(db.url, (c) => c.query("create table listen_guard (id int)"));
    const channels = ["Tenant-1", 'say "hi"', 'x"; drop table listen_guard; --', "ünïcode"];
    const seen: ListenNotification[] = [];
    for (const channel of channels) await pool.listen(channel, (n) => seen.push(n));
    for (const channel of channels) await notify(db.url, channel, `to ${channel}`);
    await until(() => seen.length === channels.length, "every notification");
    expect(seen.map((n) => [n.channel, n.payload])).toEqual(channels.map((c) => [c, `to ${c}`]));
    // "Tenant-1" unquoted would be folded to tenant-1 (and is not even valid unquoted)
    const { rows } = await pool.query("select count(*)::int as n from listen_guard");
    expect(rows[0].n).toBe(0);
  });

  it("unlisten stops delivery to that handler; other handlers and channels keep theirs", async () => {
    const pool = track(new Pool({ connectionString: db.url }));
    const first: string[] = [];
    const second: string[] = [];
    const other: string[] = [];
    const firstHandler = (n: ListenNotification) => first.push(n.payload ?? "");
    await pool.listen("jobs", firstHandler);
    const sub = await pool.listen("jobs", (n) => second.push(n.payload ?? ""));
    await pool.listen("other", (n) => other.push(n.payload ?? ""));

    await notify(db.url, "jobs", "1");
    await until(() => first.length === 1 && second.length === 1, "the first notification");
    await pool.unlisten("jobs", firstHandler);
    // one transaction: when "other" has arrived, so has (or would have) "jobs"
    await withClient(db.url, (c) =>
      c.query("begin; select pg_notify('jobs', '2'); select pg_notify('other', 'a'); commit"),
    );
    await until(() => other.length === 1, "the sentinel");
    expect(first).toEqual(["1"]);
    expect(second).toEqual(["1", "2"]);

    await sub.unlisten();
    await withClient(db.url, (c) =>
      c.query("begin; select pg_notify('jobs', '3'); select pg_notify('other', 'b'); commit"),
    );
    await until(() => other.length === 2, "the second sentinel");
    expect(second).toEqual(["1", "2"]);
  });

  it("concurrent listen() and unlisten() calls all settle, and the LISTENs end up as asked", async () => {
    const pool = track(new Pool({ connectionString: db.url }));
    const seen = new Map<string, number>();
    const count = (n: ListenNotification) => seen.set(n.channel, (seen.get(n.channel) ?? 0) + 1);
    const channels = Array.from({ length: 20 }, (_, i) => `c${i}`);
    await Promise.all(channels.map((c) => pool.listen(c, count)));
    // churn on one channel while the others are listened: the last call wins
    const churn = pool.listen("churn", count);
    const dropped = pool.unlisten("churn");
    await Promise.all([churn, dropped, pool.listen("churn", count)]);
    const sql = [...channels, "churn"].map((ch) => `select pg_notify('${ch}', '')`).join("; ");
    await withClient(db.url, (c) => c.query(`begin; ${sql}; commit`));
    await until(() => seen.size === channels.length + 1, "a notification on every channel");
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
  });

  it("runs on a connection of its own: never counted in the pool, closed by the last unlisten and by end()", async () => {
    const name = "lg_listen_close";
    const pool = new Pool({ connectionString: db.url, application_name: name, max: 2 });
    await pool.query("select 1");
    const handler = () => undefined;
    await pool.listen("a", handler);
    expect(pool.totalCount).toBe(1);
    expect((await backendPids(db.url, name)).length).toBe(2);

    await pool.unlisten("a");
    await until(
      async () => (await backendPids(db.url, name)).length === 1,
      "the listener to close",
    );

    await pool.listen("b", handler);
    expect((await backendPids(db.url, name)).length).toBe(2);
    await pool.end();
    expect(await backendPids(db.url, name)).toEqual([]);
    await expect(pool.listen("c", handler)).rejects.toBeInstanceOf(PoolClosedError);
  });

  it("a handler that throws or rejects reaches onError and delivery goes on", async () => {
    const pool = track(new Pool({ connectionString: db.url }));
    const errors: unknown[] = [];
    const seen: string[] = [];
    await pool.listen(
      "flaky",
      (n) => {
        seen.push(n.payload ?? "");
        if (n.payload === "throw") throw new Error("sync boom");
        if (n.payload === "reject") return Promise.reject(new Error("async boom"));
        return undefined;
      },
      { onError: (error) => errors.push(error) },
    );
    for (const payload of ["throw", "reject", "fine"]) await notify(db.url, "flaky", payload);
    await until(() => seen.length === 3 && errors.length === 2, "three notifications");
    expect(errors.map((e) => (e as Error).message)).toEqual(["sync boom", "async boom"]);
  });

  it("rejects bad input before any I/O, naming the argument", async () => {
    const pool = track(new Pool({ connectionString: db.url }));
    const handler = () => undefined;
    const cases: [unknown, unknown, unknown, string][] = [
      ["", handler, {}, "channel"],
      ["a\0b", handler, {}, "channel"],
      ["x".repeat(64), handler, {}, "channel"],
      [42, handler, {}, "channel"],
      ["ok", "not a function", {}, "handler"],
      ["ok", handler, { onGap: 1 }, "onGap"],
      ["ok", handler, { timeoutMillis: 0 }, "timeoutMillis"],
    ];
    for (const [channel, h, options, option] of cases) {
      const error = await (pool.listen as (...args: unknown[]) => Promise<unknown>)(
        channel,
        h,
        options,
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe(option);
    }
    // 63 bytes is PostgreSQL's limit, and it works
    await pool.listen("y".repeat(63), handler);

    const bounced = new Pool({ connectionString: db.url, pgbouncer: "transaction" });
    cleanups.push(() => bounced.end());
    await expect(bounced.listen("ok", handler)).rejects.toMatchObject({
      code: "LIFEGUARD_INVALID_OPTION",
      option: "pgbouncer",
    });
  });

  it("listen() rejects with ListenTimeoutError when the LISTEN cannot be put in place in time, and leaves nothing behind", async () => {
    // a port nobody listens on: every connect is refused
    const pool = track(new Pool({ connectionString: "postgres://postgres@127.0.0.1:1/postgres" }));
    const error = await pool
      .listen("never", () => undefined, { timeoutMillis: 200 })
      .catch((e) => e);
    expect(error).toBeInstanceOf(ListenTimeoutError);
    expect(error.code).toBe("LIFEGUARD_LISTEN_TIMEOUT");
    expect(error.cause).toBeDefined();
  });
});

interface Sent {
  seq: number;
  start: number;
  ack: number | undefined;
}

/** Sends NOTIFYs one after another with increasing numbers until stopped, recording when each was acknowledged. */
function notifyStream(url: string, channel: string) {
  const sender = new Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 1000 });
  sender.on("error", () => undefined);
  const sent: Sent[] = [];
  let stopped = false;
  const running = (async () => {
    for (let seq = 1; !stopped; seq++) {
      const record: Sent = { seq, start: Date.now(), ack: undefined };
      sent.push(record);
      try {
        await sender.query("select pg_notify($1, $2)", [channel, String(seq)]);
        record.ack = Date.now();
      } catch {
        // the server is down or restarting: not sent, try again shortly
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  })();
  return {
    sent,
    lastAcked: () => sent.findLast((s) => s.ack !== undefined)?.seq ?? 0,
    async stop() {
      stopped = true;
      await running;
      await sender.end();
    },
  };
}

describe("a LISTEN connection that heals (private server)", () => {
  const server = usePrivateServer();

  it("Lifeguard: backend terminated, then server restarted, under a stream of NOTIFYs: exactly once outside the reported gaps, one gap per outage", async () => {
    const name = "lg_listen_heal";
    const pool = new Pool({ connectionString: server.url, application_name: name });
    cleanups.push(() => pool.end());
    const received: number[] = [];
    const gaps: ListenGap[] = [];
    await pool.listen("stream", (n) => received.push(Number(n.payload)), {
      onGap: (gap) => gaps.push(gap),
    });
    const stream = notifyStream(server.url, "stream");
    cleanups.push(() => stream.stop());

    /** Waits until the newest acknowledged NOTIFY has arrived, and returns when that was. */
    const caughtUp = async (what: string) => {
      let at = 0;
      await until(() => {
        const last = stream.lastAcked();
        if (last === 0 || !received.includes(last)) return false;
        at = Date.now();
        return true;
      }, what);
      return at;
    };
    const disruptions: number[] = [];

    await until(() => received.length >= 200, "the stream to flow");
    disruptions.push(await caughtUp("the listener before the termination"));
    await terminate(server.url, await backendPids(server.url, name));
    await until(() => gaps.length === 1, "the first gap");
    const afterFirst = received.length;
    await until(() => received.length >= afterFirst + 200, "the stream after the first gap");

    disruptions.push(await caughtUp("the listener before the restart"));
    await server.restart();
    await until(() => gaps.length === 2, "the second gap");
    const afterSecond = received.length;
    await until(() => received.length >= afterSecond + 200, "the stream after the restart");
    // stopped first: the last NOTIFY in flight is acknowledged, then waited for
    await stream.stop();
    await caughtUp("the listener at the end");

    // exactly once, in order
    expect(new Set(received).size).toBe(received.length);
    expect(received).toEqual([...received].sort((a, b) => a - b));
    // one gap per outage, each inside its outage window
    expect(gaps).toHaveLength(2);
    gaps.forEach((gap, i) => {
      expect(gap.channel).toBe("stream");
      expect(gap.disconnectedAt.getTime()).toBeGreaterThanOrEqual(disruptions[i] as number);
      expect(gap.resumedAt.getTime()).toBeGreaterThanOrEqual(gap.disconnectedAt.getTime());
      expect(gap.attempts).toBeGreaterThanOrEqual(1);
    });
    expect(gaps[0]?.cause).toMatchObject({ code: "57P01" }); // terminated by administrator command
    expect(gaps[1]?.attempts).toBeGreaterThanOrEqual(1);

    // every NOTIFY acknowledged while the listener was connected arrived: only those that
    // overlap an outage (from just before its disruption to the gap's resumedAt) may be missing
    const inOutage = (s: Sent) =>
      gaps.some(
        (gap, i) =>
          s.start <= gap.resumedAt.getTime() && (s.ack as number) >= (disruptions[i] as number),
      );
    const acked = stream.sent.filter((s) => s.ack !== undefined);
    const got = new Set(received);
    const missing = acked.filter((s) => !got.has(s.seq));
    const unexplained = missing.filter((s) => !inOutage(s));
    if (unexplained.length > 0) {
      // the context a failure needs: the outages and what was sent and received around the misses
      const near = (seq: number) => unexplained.some((m) => Math.abs(m.seq - seq) < 3);
      console.log(
        JSON.stringify({
          disruptions,
          gaps,
          sent: stream.sent.filter((s) => near(s.seq)),
          received: received.filter(near),
        }),
      );
    }
    expect(unexplained).toEqual([]);
    // nothing arrived that was never acknowledged or sent
    const sentSeqs = new Set(stream.sent.map((s) => s.seq));
    expect(received.every((seq) => sentSeqs.has(seq))).toBe(true);
    expect(acked.filter((s) => !inOutage(s)).length).toBeGreaterThan(500);
    console.log(
      JSON.stringify({
        listenHeal: {
          acked: acked.length,
          received: received.length,
          missingInOutages: missing.length,
          gaps: gaps.map((g) => ({
            millis: g.resumedAt.getTime() - g.disconnectedAt.getTime(),
            attempts: g.attempts,
          })),
        },
      }),
    );

    // the healed listener still stops on unlisten, and end() leaves no backend
    await pool.unlisten("stream");
    const before = received.length;
    const sentinel: string[] = [];
    await pool.listen("sentinel", (n) => sentinel.push(n.payload ?? ""));
    await withClient(server.url, (c) =>
      c.query("begin; select pg_notify('stream', '-1'); select pg_notify('sentinel', 'x'); commit"),
    );
    await until(() => sentinel.length === 1, "the sentinel");
    expect(received.length).toBe(before);
    await pool.end();
    expect(await backendPids(server.url, name)).toEqual([]);
  });

  it("plain pg.Client: a LISTEN whose backend is terminated never comes back and says nothing about what it missed", async () => {
    const name = "lg_listen_plain";
    const client = new pg.Client({ connectionString: server.url, application_name: name });
    const errors: Error[] = [];
    client.on("error", (error) => errors.push(error)); // without it the process dies
    const received: string[] = [];
    client.on("notification", (n) => received.push(n.payload ?? ""));
    await client.connect();
    cleanups.push(() => client.end().catch(() => undefined));
    await client.query('LISTEN "stream"');

    // Lifeguard on the same channel is the witness that the NOTIFYs were delivered
    const witness = track(new Pool({ connectionString: server.url }));
    const witnessed: string[] = [];
    await witness.listen("stream", (n) => witnessed.push(n.payload ?? ""));

    await notify(server.url, "stream", "before");
    await until(() => received.length === 1 && witnessed.length === 1, "the first notification");
    await terminate(server.url, await backendPids(server.url, name));
    await until(() => errors.length > 0, "pg's error event");
    for (const payload of ["after-1", "after-2"]) await notify(server.url, "stream", payload);
    await until(() => witnessed.length === 3, "the witness");
    expect(received).toEqual(["before"]);
    expect(errors[0]).toMatchObject({ code: "57P01" });
    expect(await backendPids(server.url, name)).toEqual([]);
  });
});
