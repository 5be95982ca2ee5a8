/**
 * The `credentials` option's rules on a manual clock, without a server: when the provider is
 * called, what a connect gets meanwhile, what a failure keeps and reports, what a rotation says.
 */
import { ManualClock } from "@lifeguard/core";
import pg from "pg";
import { describe, expect, it } from "vitest";
import type { IssuedCredentials } from "../src/credentials.js";
import {
  applyCredentials,
  CredentialSource,
  REFRESH_WITHOUT_EXPIRY_MILLIS,
} from "../src/credentials.js";
import type { Credentials } from "../src/credentials-api.js";
import { CredentialsUnavailableError } from "../src/credentials-api.js";

const EPOCH = 1_800_000_000_000;

interface Harness {
  clock: ManualClock;
  source: CredentialSource;
  calls: number;
  /** What the provider does next: return these, or throw. */
  next: (wall: number) => Credentials | Promise<Credentials>;
  failures: { error: CredentialsUnavailableError; usable: boolean }[];
  rotations: [IssuedCredentials, IssuedCredentials][];
  signals: AbortSignal[];
}

function setup(): Harness {
  const clock = new ManualClock();
  const wall = () => EPOCH + clock.now();
  const h: Harness = {
    clock,
    calls: 0,
    next: (now) => ({ user: "app", password: "p1", expiresAt: now + 10_000 }),
    failures: [],
    rotations: [],
    signals: [],
    source: undefined as unknown as CredentialSource,
  };
  h.source = new CredentialSource({
    clock,
    wallNow: wall,
    provider: ({ signal }) => {
      h.calls++;
      h.signals.push(signal);
      return h.next(wall());
    },
    refreshFailed: (error, usable) => h.failures.push({ error, usable }),
    rotated: (previous, next) => h.rotations.push([previous, next]),
  });
  return h;
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("CredentialSource", () => {
  it("fetches once for the first connects, which share the call, then answers without waiting", async () => {
    const h = setup();
    const pending = deferred<Credentials>();
    h.next = () => pending.promise;
    const a = h.source.get();
    const b = h.source.get();
    expect(a).toBeInstanceOf(Promise);
    await h.clock.advance(0);
    expect(h.calls).toBe(1);
    pending.resolve({
      user: "app",
      password: "p1",
      expiresAt: new Date(EPOCH + h.clock.now() + 60_000),
    });
    const [first, second] = await Promise.all([a, b]);
    expect(first).toBe(second);
    expect(first).toMatchObject({ user: "app", password: "p1" });
    expect(first.expiresAt).toBe(h.clock.now() + 60_000);
    // later connects take them synchronously
    expect(h.source.get()).toBe(first);
    expect(h.calls).toBe(1);
  });

  it("refreshes in the background at 80% of the lifetime left, and connects never wait for it", async () => {
    const h = setup();
    await h.source.get();
    let version = 1;
    const pending = deferred<Credentials>();
    h.next = () => pending.promise;
    await h.clock.advance(7999);
    expect(h.calls).toBe(1);
    await h.clock.advance(1);
    expect(h.calls).toBe(2);
    // the refresh is in flight: a connect still gets the current ones at once
    const during = h.source.get();
    expect(during).not.toBeInstanceOf(Promise);
    expect((during as IssuedCredentials).password).toBe("p1");
    version = 2;
    pending.resolve({
      user: "app",
      password: `p${version}`,
      expiresAt: EPOCH + h.clock.now() + 10_000,
    });
    await h.clock.advance(0);
    expect((h.source.get() as IssuedCredentials).password).toBe("p2");
    expect(h.source.fetches).toBe(2);
  });

  it("calls to the provider never overlap", async () => {
    const h = setup();
    let running = 0;
    let most = 0;
    h.next = async (now) => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setImmediate(resolve));
      running--;
      return { password: "p", expiresAt: now + 1000 };
    };
    await Promise.all([h.source.get(), h.source.get(), h.source.get()]);
    for (let i = 0; i < 20; i++) {
      await h.clock.advance(400);
      void Promise.resolve(h.source.get()).catch(() => undefined);
    }
    expect(h.calls).toBeGreaterThan(5);
    expect(most).toBe(1);
  });

  it("a failed refresh keeps the last good credentials until they expire, reports it and retries", async () => {
    const h = setup();
    const good = (await h.source.get()) as IssuedCredentials;
    const cause = new Error("token endpoint down");
    h.next = () => {
      throw cause;
    };
    await h.clock.advance(8000); // the refresh at 80%: fails
    expect(h.calls).toBe(2);
    expect(h.failures).toHaveLength(1);
    expect(h.failures[0]?.usable).toBe(true);
    expect(h.failures[0]?.error).toBeInstanceOf(CredentialsUnavailableError);
    expect(h.failures[0]?.error.cause).toBe(cause);
    expect(h.source.get()).toBe(good);
    // retried after 1 s (within the 2 s left), then again before they expire
    await h.clock.advance(1000);
    expect(h.calls).toBe(3);
    expect(h.source.get()).toBe(good);
    await h.clock.advance(999);
    expect(h.source.get()).toBe(good);
    // expired: never handed out again; connects fail with the provider's error as cause
    await h.clock.advance(1);
    const error = await Promise.resolve(h.source.get()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredentialsUnavailableError);
    expect((error as Error).message).toMatch(/credentials provider failed: token endpoint down/);
    expect((error as Error).cause).toBe(cause);
    expect((error as { code?: string }).code).toBe("LIFEGUARD_CREDENTIALS_UNAVAILABLE");
    expect(h.failures.at(-1)?.usable).toBe(false);
    // the provider recovers: the background retry picks it up, connects succeed again
    h.next = (now) => ({ user: "app", password: "p9", expiresAt: now + 10_000 });
    await h.clock.advance(30_000);
    expect((h.source.get() as IssuedCredentials).password).toBe("p9");
    expect(h.source.fetchFailures).toBeGreaterThanOrEqual(3);
  });

  it("after a failure with nothing usable, connects fail fast instead of calling the provider each time", async () => {
    const h = setup();
    h.next = () => Promise.reject(new Error("denied"));
    await expect(h.source.get()).rejects.toBeInstanceOf(CredentialsUnavailableError);
    await expect(h.source.get()).rejects.toThrow(/denied/);
    await expect(h.source.get()).rejects.toThrow(/denied/);
    expect(h.calls).toBe(1);
    await h.clock.advance(1000); // the retry
    expect(h.calls).toBe(2);
  });

  it.each<[string, unknown, RegExp]>([
    ["expired credentials", { password: "p", expiresAt: EPOCH - 1 }, /expired at .*never sent/],
    ["no password", { user: "app" }, /no password/],
    ["an empty user", { user: "", password: "p" }, /invalid user/],
    ["an invalid expiresAt", { password: "p", expiresAt: "tomorrow" }, /invalid expiresAt/],
    ["an invalid Date", { password: "p", expiresAt: new Date(Number.NaN) }, /invalid expiresAt/],
    ["null", null, /returned null/],
  ])("refuses %s from the provider", async (_, value, message) => {
    const h = setup();
    h.next = () => value as Credentials;
    await expect(h.source.get()).rejects.toThrow(message);
    expect(h.failures).toHaveLength(1);
  });

  it("credentials without expiresAt are fetched again every 5 minutes, to pick up a rotation", async () => {
    const h = setup();
    h.next = () => ({ password: "static" });
    const first = (await h.source.get()) as IssuedCredentials;
    expect(first.expiresAt).toBe(Number.POSITIVE_INFINITY);
    await h.clock.advance(REFRESH_WITHOUT_EXPIRY_MILLIS - 1);
    expect(h.calls).toBe(1);
    await h.clock.advance(1);
    expect(h.calls).toBe(2);
    expect(h.rotations).toEqual([]);
  });

  it("reports a rotation when the user or password changes, and tells old credentials apart", async () => {
    const h = setup();
    const first = (await h.source.get()) as IssuedCredentials;
    h.next = (now) => ({ user: "app", password: "p1", expiresAt: now + 10_000 });
    await h.clock.advance(8000);
    expect(h.rotations).toEqual([]); // same password, new expiry: not a rotation
    const renewed = h.source.get() as IssuedCredentials;
    expect(renewed).not.toBe(first);
    expect(h.source.isCurrent(first)).toBe(true);
    h.next = (now) => ({ user: "app_b", password: "p2", expiresAt: now + 10_000 });
    await h.clock.advance(8000);
    expect(h.rotations).toHaveLength(1);
    expect(h.rotations[0]?.[0]).toBe(renewed);
    expect(h.rotations[0]?.[1]).toMatchObject({ user: "app_b", password: "p2" });
    expect(h.source.isCurrent(first)).toBe(false);
    expect(h.source.rotations).toBe(1);
  });

  it("credentials the server refused are fetched again before the next connect", async () => {
    const h = setup();
    const first = (await h.source.get()) as IssuedCredentials;
    h.next = (now) => ({ user: "app", password: "p2", expiresAt: now + 10_000 });
    h.source.refused(first);
    const next = await h.source.get();
    expect(next.password).toBe("p2");
    expect(h.calls).toBe(2);
    // refusing credentials already replaced changes nothing
    h.source.refused(first);
    expect(h.source.get()).toBe(next);
  });

  it("renew() after a refusal waits for a store that lags the server, a little, then gives up", async () => {
    const h = setup();
    const first = (await h.source.get()) as IssuedCredentials;
    // the store still answers with the refused password for the first two calls after it
    let stale = 2;
    h.next = (now) => ({
      user: "app",
      password: stale-- > 0 ? "p1" : "p2",
      expiresAt: now + 10_000,
    });
    const renewing = h.source.renew(first, "refused", new AbortController().signal);
    await h.clock.advance(400);
    const fresh = await renewing;
    expect(fresh?.password).toBe("p2");
    expect(h.calls).toBe(4);

    // a store that never changes: the refusal stands after four fetches
    const h2 = setup();
    const only = (await h2.source.get()) as IssuedCredentials;
    const giving = h2.source.renew(only, "refused", new AbortController().signal);
    await h2.clock.advance(1000);
    expect(await giving).toBeUndefined();
    expect(h2.calls).toBe(5);
  });

  it("renew() after expiry takes the same password with a later expiry, and stops on abort", async () => {
    const h = setup();
    const first = (await h.source.get()) as IssuedCredentials;
    await h.clock.advance(10_000);
    const fresh = await h.source.renew(first, "expired", new AbortController().signal);
    expect(fresh?.password).toBe("p1");
    expect(fresh?.expiresAt).toBeGreaterThan(h.clock.now());

    const controller = new AbortController();
    const giving = h.source.renew(fresh as IssuedCredentials, "refused", controller.signal);
    await h.clock.advance(50);
    controller.abort(new Error("deadline"));
    expect(await giving).toBeUndefined();
    // the wait was cut short: no fetch after the abort
    const calls = h.calls;
    await h.clock.advance(1000);
    expect(h.calls).toBe(calls);
  });

  it("close() stops the refreshes and aborts the provider's signal", async () => {
    const h = setup();
    await h.source.get();
    h.source.close();
    expect(h.signals[0]?.aborted).toBe(true);
    await h.clock.advance(60_000);
    expect(h.calls).toBe(1);
    expect(h.clock.pendingTimers).toBe(0);
  });
});

describe("applyCredentials", () => {
  it("logs a client in as the provider's user with a password pg asks for, refused once expired", async () => {
    const clock = new ManualClock();
    const client = new pg.Client({ connectionString: "postgres://someone@127.0.0.1:5/db" });
    const issued: IssuedCredentials = {
      user: "app",
      password: "token",
      expiresAt: clock.now() + 1000,
      generation: 0,
    };
    applyCredentials(client, issued, clock);
    expect(client.user).toBe("app");
    expect(
      (client as unknown as { connectionParameters: { user: string } }).connectionParameters.user,
    ).toBe("app");
    const password = (client as unknown as { password: () => string }).password;
    expect(password()).toBe("token");
    expect(Object.keys(client)).not.toContain("password");
    await clock.advance(1000);
    expect(() => password()).toThrow(CredentialsUnavailableError);
  });
});
