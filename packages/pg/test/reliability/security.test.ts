/**
 * docs/reliability.md, "No password anywhere": no password anywhere. A private server that requires passwords (scram-sha-256 on
 * TCP) gets an application role with a recognisable password, given to the pool both ways
 * (`password` and inside `connectionString`). Then the pool goes through every path that makes
 * an error, a log line, an event or a snapshot: queries, statement errors, idle and checked-out
 * backends terminated, an acquire timeout, a leak warning, a forced close, the server down, a
 * wrong password, a malformed URL. Everything captured is searched for the password, raw and
 * URL-encoded; and a positive control shows the search finds it where pg keeps it.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { inspect } from "node:util";
import {
  AcquireTimeoutError,
  channelNames,
  DatabaseUnavailableError,
  ManualClock,
} from "@lifeguard/core";
import { usePrivateServer, withClient } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Pool } from "../../src/index.js";
import { pidOf, terminate } from "../helpers.js";
import { report } from "./support.js";

const SUPERUSER_PASSWORD = "Lg-Super-Pa55-7731";
const server = usePrivateServer({ password: SUPERUSER_PASSWORD });
const ROLE = "lg_app";
// recognisable, and with characters a URL must encode
const PASSWORD = "Lg/App@S3cret#9Qz";
const WRONG = "Wr0ng/Guess@Pa55#1";
const SECRETS = [PASSWORD, WRONG, SUPERUSER_PASSWORD];
const forms = (secret: string) => [secret, encodeURIComponent(secret)];

/** Everything captured during the run, as text. */
const captured: { where: string; text: string }[] = [];

function capture(where: string, value: unknown): void {
  let json: string;
  try {
    json = JSON.stringify(value) ?? "";
  } catch (error) {
    json = `JSON.stringify threw: ${(error as Error).message}`;
  }
  const text =
    value instanceof Error
      ? `${value.message}\n${value.stack}\n${inspect(value, { depth: 6 })}`
      : "";
  captured.push({ where, text: `${text}\n${inspect(value, { depth: 6 })}\n${json}` });
}

/** Every diagnostics channel of Lifeguard, recorded for the whole file. */
const listeners = Object.values(channelNames).map((name) => {
  const onMessage = (message: unknown) => capture(`channel ${name}`, message);
  return { name, onMessage };
});

const appUrl = () => {
  const url = new URL(server.url);
  url.username = ROLE;
  url.password = PASSWORD; // URL-encodes it
  return url.toString();
};

const pools: pg.Pool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.end().catch(() => undefined);
});

beforeAll(async () => {
  await withClient(server.url, async (c) => {
    await c.query(
      `create role ${ROLE} login superuser password '${PASSWORD.replaceAll("'", "''")}'`,
    );
  });
  for (const { name, onMessage } of listeners) subscribe(name, onMessage);
});
afterAll(() => {
  for (const { name, onMessage } of listeners) unsubscribe(name, onMessage);
});

/** A Lifeguard pool whose events, errors and log lines are all captured. */
function lifeguard(config: ConstructorParameters<typeof Pool>[0]): Pool {
  const pool = new Pool({
    ...config,
    log: (...messages: unknown[]) => capture("log option", messages.join(" ")),
  });
  pools.push(pool);
  for (const event of ["connect", "acquire", "release", "remove", "error"] as const) {
    pool.on(event, (...args: unknown[]) => capture(`pool event ${event}`, args));
  }
  return pool;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  capture("rejection", error);
  return error;
}

describe("no password anywhere", () => {
  it.each([
    [
      "the password option",
      () => ({
        host: server.host,
        port: server.port,
        user: ROLE,
        password: PASSWORD,
        database: "postgres",
      }),
    ],
    ["a connection string", () => ({ connectionString: appUrl() })],
  ])("through every path, with %s", async (_how, config) => {
    const pool = lifeguard({ ...config(), max: 2, application_name: "lg_rel_security" });
    capture("new pool", pool);

    // queries, a statement error, a client and its snapshot
    await pool.query("select 1");
    await failure(pool.query("selec 1"));
    const client = await pool.connect();
    capture("client", client);
    capture("client keys", Object.keys(client));
    capture("pool while busy", pool);
    capture("stats", pool.stats());
    capture("options", pool.options);
    capture("name (the metric label)", pool.name);

    // a checked-out backend terminated: the query fails, the release retires it
    await terminate(server.url, [await pidOf(client)]);
    await failure(client.query("select 1"));
    client.release();

    // an idle backend terminated: an 'error' event and a connection:error message
    const idle = await pool.connect();
    const idlePid = await pidOf(idle);
    idle.release();
    await terminate(server.url, [idlePid]);
    await vi.waitFor(() => expect(pool.stats().connector["idleErrors"]).toBeGreaterThan(0));

    // an acquire timeout, carrying the pool's snapshot
    const held = [await pool.connect(), await pool.connect()];
    const timeout = await failure(pool.lifeguard.acquire({ timeoutMillis: 20 }));
    expect(timeout).toBeInstanceOf(AcquireTimeoutError);
    for (const c of held) c.release();

    // the server goes down: fail fast, with the connect error as cause
    pool.evict();
    await server.stop();
    try {
      const down = await failure(pool.query("select 1"));
      expect(down).toBeInstanceOf(DatabaseUnavailableError);
      capture("pool while down", pool);
    } finally {
      await server.start();
    }

    // a forced close with a lease still out
    const closing = lifeguard({ ...config(), max: 1 });
    const forgotten = await closing.connect();
    const closeReport = await closing.close({ timeoutMillis: 1 });
    capture("close report", closeReport);
    expect(closeReport.forced).toBe(true);
    forgotten.release();
    capture("pool after close", closing);
  });

  it("a leak, reported on its channel or as a process warning, names no password", async () => {
    const clock = new ManualClock();
    const pool = lifeguard({
      connectionString: appUrl(),
      leakDetectionThresholdMillis: 100,
      clock,
    });
    const first = await pool.connect();
    await clock.advance(100); // reported on lifeguard:pool:leak (subscribed above)
    first.release();
    expect(captured.some((c) => c.where === `channel ${channelNames.leak}`)).toBe(true);

    // with nobody subscribed to the leak channel, it becomes a process warning
    const leakListener = listeners.find((l) => l.name === channelNames.leak);
    if (leakListener !== undefined) unsubscribe(leakListener.name, leakListener.onMessage);
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const second = await pool.connect();
      await clock.advance(100);
      second.release();
      await vi.waitFor(() => expect(warnings).toHaveLength(1));
      capture("process warning", warnings[0]);
    } finally {
      process.off("warning", onWarning);
      if (leakListener !== undefined) subscribe(leakListener.name, leakListener.onMessage);
    }
  });

  it("a wrong password fails fast with the server's message, and names neither password", async () => {
    const url = new URL(appUrl());
    url.password = WRONG;
    for (const config of [
      { connectionString: url.toString() },
      { host: server.host, port: server.port, user: ROLE, password: WRONG, database: "postgres" },
    ]) {
      const pool = lifeguard(config);
      const error = (await failure(pool.query("select 1"))) as DatabaseUnavailableError;
      expect(error).toBeInstanceOf(DatabaseUnavailableError);
      expect(error.message).toMatch(/password authentication failed for user "lg_app"/);
      expect((error.cause as { code?: string }).code).toBe("28P01");
      capture("pool after a wrong password", pool);
    }
  });

  it("a malformed connection string is refused without echoing it", () => {
    for (const bad of [
      `postgres://${ROLE}:${encodeURIComponent(PASSWORD)}@127.0.0.1:99999/postgres`,
      `postgres://${ROLE}:${encodeURIComponent(PASSWORD)}@[::1/postgres`,
    ]) {
      let thrown: unknown;
      try {
        lifeguard({ connectionString: bad });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(Error);
      capture("constructor error", thrown);
    }
  });

  it("everything captured above is free of every password, raw and URL-encoded", () => {
    const where = new Set(captured.map((c) => c.where.replace(/ lifeguard:.*/, "")));
    // the run went through every kind of output
    for (const kind of [
      "rejection",
      "log option",
      "pool event connect",
      "pool event error",
      "pool event remove",
      "channel",
      "client",
      "stats",
      "options",
      "close report",
      "process warning",
      "constructor error",
    ]) {
      expect(
        [...where].some((w) => w.startsWith(kind)),
        kind,
      ).toBe(true);
    }
    const found = captured.filter(({ text }) =>
      SECRETS.some((secret) => forms(secret).some((form) => text.includes(form))),
    );
    expect(found.map((f) => f.where)).toEqual([]);
    report("security", {
      capturedItems: captured.length,
      kinds: [...where].sort(),
      passwordFound: found.length,
    });
  });

  it("control: the search finds the password where pg keeps it (a hidden property)", async () => {
    const pool = lifeguard({ connectionString: appUrl() });
    const client = await pool.connect();
    try {
      expect(inspect(client, { showHidden: true, depth: 2 })).toContain(PASSWORD);
    } finally {
      client.release();
    }
  });

  it("plain pg.Pool prints a password given in the connection string", () => {
    const pool = new pg.Pool({ connectionString: appUrl() });
    pools.push(pool);
    expect(inspect(pool)).toContain(encodeURIComponent(PASSWORD));
    expect(JSON.stringify(pool.options)).toContain(encodeURIComponent(PASSWORD));
    report("security-pg", { inspectShowsPassword: true, jsonOfOptionsShowsPassword: true });
  });
});
