import { createConnection, createServer, type Server, type Socket } from "node:net";
import pg from "pg";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { type FaultProxy, type FaultTarget, startFaultProxy } from "../src/fault-proxy.js";

// No sleeps and no clock assertions: absence is shown with fake timers (nothing can be written
// before the timer fires) or against a control trip that is not faulted; presence is awaited.

const LOOPBACK = "127.0.0.1";

/** one end of a TCP connection, with what it has seen so far */
interface Peer {
  readonly socket: Socket;
  received: string;
  ended: boolean;
  closed: boolean;
  error: NodeJS.ErrnoException | undefined;
}

interface Echo {
  readonly target: FaultTarget;
  /** the server side of every connection the echo server accepted, in order */
  readonly peers: Peer[];
  close(): Promise<void>;
}

const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  vi.useRealTimers();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track(socket: Socket): Peer {
  const peer: Peer = { socket, received: "", ended: false, closed: false, error: undefined };
  socket.setEncoding("utf8");
  socket.on("data", (text: string) => {
    peer.received += text;
  });
  socket.on("end", () => {
    peer.ended = true;
  });
  socket.on("error", (error: NodeJS.ErrnoException) => {
    peer.error = error;
  });
  socket.on("close", () => {
    peer.closed = true;
  });
  return peer;
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, LOOPBACK, () => resolve());
  });
}

/** a TCP server that writes back whatever it reads */
async function startEcho(): Promise<Echo> {
  const peers: Peer[] = [];
  const server = createServer((socket) => {
    peers.push(track(socket));
    socket.on("data", (text: string) => socket.write(text));
  });
  await listen(server, 0);
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("echo server has no port");
  const echo: Echo = {
    target: { host: LOOPBACK, port: address.port },
    peers,
    close: () => {
      for (const peer of peers) peer.socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  cleanups.push(() => (server.listening ? echo.close() : undefined));
  return echo;
}

async function startProxy(target: FaultTarget | string): Promise<FaultProxy> {
  const proxy = await startFaultProxy(target);
  cleanups.push(() => proxy.close());
  return proxy;
}

async function connect(port: number): Promise<Peer> {
  const socket = createConnection({ host: LOOPBACK, port });
  const peer = track(socket);
  cleanups.push(() => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return peer;
}

/** waits, turn by turn of the event loop, for something to happen */
async function until(what: string, happened: () => boolean): Promise<void> {
  for (let turn = 0; !happened(); turn++) {
    if (turn === 1_000_000) throw new Error(`never happened: ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** writes `text` and waits for it to come back */
async function exchange(peer: Peer, text: string): Promise<void> {
  const expected = peer.received + text;
  peer.socket.write(text);
  await until(`"${text}" echoed`, () => peer.received === expected);
}

describe("startFaultProxy", () => {
  it("forwards both ways in pass mode, and a graceful close goes through", async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.target);
    expect(proxy.mode).toBe("pass");
    expect(proxy.port).not.toBe(echo.target.port);

    const client = await connect(proxy.port);
    await exchange(client, "ping");
    expect(echo.peers.map((peer) => peer.received)).toEqual(["ping"]);
    expect(proxy.accepted).toBe(1);
    expect(proxy.connections).toBe(1);

    client.socket.end();
    await until("both sides closed", () => client.closed && echo.peers[0]?.closed === true);
    expect(client.ended).toBe(true);
    expect(client.error).toBeUndefined();
    expect(echo.peers[0]?.error).toBeUndefined();
    await until("the proxy forgot the connection", () => proxy.connections === 0);
    expect(proxy.accepted).toBe(1);
  });

  it("takes a postgres URL as target and rewrites URLs to go through the proxy", async () => {
    const echo = await startEcho();
    const targetUrl = `postgres://app:s3cret@${LOOPBACK}:${echo.target.port}/app?sslmode=disable`;
    const proxy = await startProxy(targetUrl);
    expect(proxy.target).toEqual(echo.target);
    expect(proxy.url()).toBe(`postgres://app:s3cret@${LOOPBACK}:${proxy.port}/app?sslmode=disable`);
    expect(proxy.url("postgres://u@db.internal/x?host=/tmp&port=6543&application_name=t")).toBe(
      `postgres://u@${LOOPBACK}:${proxy.port}/x?application_name=t`,
    );
    await exchange(await connect(proxy.port), "via url");
    expect(echo.peers[0]?.received).toBe("via url");

    const byDefault = await startProxy("postgres://u:pw@localhost/db");
    expect(byDefault.target).toEqual({ host: "localhost", port: 5432 });
    const byAddress = await startProxy(echo.target);
    expect(() => byAddress.url()).toThrow("needs a URL");
    await expect(startFaultProxy("not a url")).rejects.toThrow("not a valid URL");
  });

  it("latency delays every chunk in both directions, and 0 turns it off", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const echo = await startEcho();
    const bystander = await connect((await startEcho()).target.port);
    const proxy = await startProxy(echo.target);
    expect(() => proxy.latency(-1)).toThrow(RangeError);
    proxy.latency(100);

    const client = await connect(proxy.port);
    client.socket.write("hello");
    await until("the proxy holds the request", () => vi.getTimerCount() === 1);
    await vi.advanceTimersByTimeAsync(99);
    await exchange(bystander, "tick");
    expect(echo.peers[0]?.received).toBe("");

    await vi.advanceTimersByTimeAsync(1);
    await until("the server gets the request", () => echo.peers[0]?.received === "hello");
    await until("the proxy holds the reply", () => vi.getTimerCount() === 1);
    await vi.advanceTimersByTimeAsync(99);
    await exchange(bystander, "tock");
    expect(client.received).toBe("");

    await vi.advanceTimersByTimeAsync(1);
    await until("the client gets the reply", () => client.received === "hello");

    proxy.latency(0);
    await exchange(client, " again");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("latency keeps chunk order even when lowered mid-flight", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const echo = await startEcho();
    const bystander = await connect((await startEcho()).target.port);
    const proxy = await startProxy(echo.target);
    proxy.latency(100);
    const client = await connect(proxy.port);

    client.socket.write("first,");
    await until("the proxy holds the first chunk", () => vi.getTimerCount() === 1);
    proxy.latency(10);
    client.socket.write("second");
    await until("the proxy holds the second chunk", () => vi.getTimerCount() === 2);

    await vi.advanceTimersByTimeAsync(10);
    expect(vi.getTimerCount()).toBe(1);
    await exchange(bystander, "tick");
    // the second chunk is due, but waits behind the first
    expect(echo.peers[0]?.received).toBe("");

    await vi.advanceTimersByTimeAsync(90);
    await until("the server gets both", () => echo.peers[0]?.received.length === 12);
    expect(echo.peers[0]?.received).toBe("first,second");
  });

  it("refuse() gives ECONNREFUSED to new connections only, and pass() listens again on the same port", async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.target);
    const port = proxy.port;
    const open = await connect(port);
    await exchange(open, "before");

    await proxy.refuse();
    expect(proxy.mode).toBe("refused");
    await expect(connect(port)).rejects.toMatchObject({ code: "ECONNREFUSED" });
    await exchange(open, " still open");
    expect(proxy.accepted).toBe(1);

    await proxy.pass();
    expect(proxy.mode).toBe("pass");
    expect(proxy.port).toBe(port);
    await exchange(await connect(port), "back");
    expect(echo.peers.map((peer) => peer.received)).toEqual(["before still open", "back"]);
    expect(proxy.accepted).toBe(2);
  });

  it("cut() resets every open connection on both sides, and new connections still work", async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.target);
    const clients = [await connect(proxy.port), await connect(proxy.port)];
    for (const client of clients) await exchange(client, "hi");
    expect(proxy.connections).toBe(2);

    proxy.cut();
    expect(proxy.connections).toBe(0);
    const everyone = [...clients, ...echo.peers];
    await until("every socket closed", () => everyone.every((peer) => peer.closed));
    for (const peer of everyone) expect(peer.error?.code).toBe("ECONNRESET");

    expect(proxy.mode).toBe("pass");
    await exchange(await connect(proxy.port), "new");
    expect(proxy.accepted).toBe(3);
  });

  it("blackhole() silences open and new connections; pass() delivers what was held", async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.target);
    const control = await startProxy(echo.target);
    const open = await connect(proxy.port);
    await exchange(open, "before,");

    await proxy.blackhole();
    expect(proxy.mode).toBe("blackhole");
    open.socket.write("held");
    const fresh = await connect(proxy.port); // the connect itself succeeds
    fresh.socket.write("new");
    await until("the proxy accepted the new connection", () => proxy.accepted === 2);
    // the same trip through an unfaulted proxy goes all the way and back
    await exchange(await connect(control.port), "control");

    expect(echo.peers.map((peer) => peer.received)).toEqual(["before,", "control"]);
    expect(open.received).toBe("before,");
    expect(fresh.received).toBe("");
    expect([open.closed, fresh.closed]).toEqual([false, false]);
    expect(proxy.connections).toBe(2);

    await proxy.pass();
    await until("held bytes delivered", () => open.received === "before,held");
    await until("the new connection answered", () => fresh.received === "new");
    expect(echo.peers.map((peer) => peer.received)).toEqual(["before,held", "control", "new"]);
    await exchange(await connect(proxy.port), "after");
  });

  it("cut() during a blackhole drops the held connections, and pass() serves new ones", async () => {
    const echo = await startEcho();
    const proxy = await startProxy(echo.target);
    const open = await connect(proxy.port);
    await exchange(open, "before");

    await proxy.blackhole();
    open.socket.write("doomed");
    proxy.cut();
    await until("both sides closed", () => open.closed && echo.peers[0]?.closed === true);
    expect(open.error?.code).toBe("ECONNRESET");

    await proxy.pass();
    await exchange(await connect(proxy.port), "after");
    expect(echo.peers.map((peer) => peer.received)).toEqual(["before", "after"]);
  });

  it("resets the client when the target is unreachable, and keeps running", async () => {
    const echo = await startEcho();
    await echo.close();
    const proxy = await startProxy(echo.target);

    for (const attempt of [1, 2]) {
      const client = await connect(proxy.port);
      await until("the client is closed", () => client.closed);
      expect(client.error?.code).toBe("ECONNRESET");
      expect(proxy.accepted).toBe(attempt);
    }
  });

  // Node cannot reset a socket whose FIN is still on its way: resetAndDestroy() fails with EINVAL,
  // the socket never emits 'close', and close() used to wait for it forever. Latency on fake timers
  // lets the proxy forward the FIN and cut in the same turn, before the FIN has gone out.
  it.each(["client", "server"] as const)(
    "cut() right after forwarding a FIN from the %s still closes both sides, and close() resolves",
    async (finFrom) => {
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
      const echo = await startEcho();
      const proxy = await startFaultProxy(echo.target);
      const client = await connect(proxy.port);
      await exchange(client, "hi");
      const server = echo.peers[0];
      if (server === undefined) throw new Error("the echo server has no connection");
      const [sender, receiver] = finFrom === "client" ? [client, server] : [server, client];

      proxy.latency(1);
      sender.socket.end();
      await until("the proxy holds the FIN", () => vi.getTimerCount() === 1);
      vi.advanceTimersByTime(1); // the proxy ends its socket to the receiver: the FIN is pending
      proxy.cut();
      let closed = false;
      void proxy.close().then(() => {
        closed = true;
      });
      await until("close() resolved", () => closed);
      await until("both sides closed", () => client.closed && server.closed);
      expect(receiver.ended).toBe(true);
      expect(proxy.connections).toBe(0);
    },
  );

  it("close() is idempotent, closes every connection and frees the port", async () => {
    const echo = await startEcho();
    const proxy = await startFaultProxy(echo.target);
    const client = await connect(proxy.port);
    await exchange(client, "hi");

    const closing = proxy.close();
    expect(proxy.close()).toBe(closing);
    await closing;
    await proxy.close();
    expect(proxy.connections).toBe(0);
    await until("both sides closed", () => client.closed && echo.peers[0]?.closed === true);

    await expect(connect(proxy.port)).rejects.toMatchObject({ code: "ECONNREFUSED" });
    const successor = createServer();
    await listen(successor, proxy.port);
    await new Promise((resolve) => successor.close(resolve));

    expect(() => proxy.cut()).toThrow("fault proxy is closed");
    expect(() => proxy.latency(1)).toThrow("fault proxy is closed");
    await expect(proxy.pass()).rejects.toThrow("fault proxy is closed");
  });
});

describe("startFaultProxy in front of PostgreSQL", () => {
  it("runs select 1 in pass mode, and cut() ends the pg client rather than leaving it hanging", async () => {
    const pgUrl = inject("pgUrl");
    const proxy = await startProxy(pgUrl);
    const client = new pg.Client({ connectionString: proxy.url() });
    const errors: Error[] = [];
    client.on("error", (error) => errors.push(error));
    const ended = new Promise<void>((resolve) => client.once("end", () => resolve()));
    cleanups.push(() => client.end().catch(() => {}));

    await client.connect();
    const { rows } = await client.query<{ one: number }>("select 1 as one");
    expect(rows).toEqual([{ one: 1 }]);

    proxy.cut();
    await ended;
    // pg reports the reset, then "Connection terminated unexpectedly"
    expect(errors[0]?.message).toMatch(/ECONNRESET/);
    await expect(client.query("select 1")).rejects.toThrow();

    const next = new pg.Client({ connectionString: proxy.url() });
    cleanups.push(() => next.end().catch(() => {}));
    await next.connect();
    expect((await next.query<{ two: number }>("select 2 as two")).rows).toEqual([{ two: 2 }]);
  });
});
