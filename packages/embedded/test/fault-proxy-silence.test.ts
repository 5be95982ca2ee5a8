import { createConnection, createServer, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type FaultProxy, startFaultProxy } from "../src/index.js";

// The rest of the proxy is tested in test-fixtures/test/fault-proxy.test.ts. Absence is shown
// against a control trip through the same proxy, never with a clock.

const LOOPBACK = "127.0.0.1";
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Peer {
  readonly socket: Socket;
  received: string;
  ended: boolean;
  closed: boolean;
}

function track(socket: Socket): Peer {
  const peer: Peer = { socket, received: "", ended: false, closed: false };
  socket.setEncoding("utf8");
  socket.on("data", (text: string) => {
    peer.received += text;
  });
  socket.on("end", () => {
    peer.ended = true;
  });
  socket.on("error", () => undefined);
  socket.on("close", () => {
    peer.closed = true;
  });
  return peer;
}

async function until(what: string, happened: () => boolean): Promise<void> {
  for (let turn = 0; !happened(); turn++) {
    if (turn === 1_000_000) throw new Error(`never happened: ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** an echo server behind a fault proxy; `servers` are its side of each connection */
async function echoBehindProxy(): Promise<{ proxy: FaultProxy; servers: Peer[] }> {
  const servers: Peer[] = [];
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    servers.push(track(socket));
    socket.on("data", (text: string) => socket.write(text));
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, () => resolve()));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  cleanups.push(() => {
    for (const peer of servers) peer.socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const proxy = await startFaultProxy({ host: LOOPBACK, port: address.port });
  cleanups.push(() => proxy.close());
  return { proxy, servers };
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

async function exchange(peer: Peer, text: string): Promise<void> {
  const expected = peer.received + text;
  peer.socket.write(text);
  await until(`"${text}" echoed`, () => peer.received === expected);
}

describe("FaultProxy.silence()", () => {
  it("silences the open connections for good, without FIN or RST, while new ones work", async () => {
    const { proxy, servers } = await echoBehindProxy();
    const old = await connect(proxy.port);
    await exchange(old, "before");

    proxy.silence();
    old.socket.write("lost?");
    old.socket.end(); // the close is held too: the server never learns
    const fresh = await connect(proxy.port);
    await exchange(fresh, "after"); // the control trip, sent later, comes back
    await proxy.blackhole();
    await proxy.pass(); // healing a blackhole does not revive a silenced connection
    await exchange(fresh, "healed");

    expect(old.received).toBe("before");
    expect(old.closed).toBe(false);
    expect(servers[0]?.received).toBe("before");
    expect(servers[0]?.ended).toBe(false);
    expect(proxy.connections).toBe(2);

    proxy.cut(); // only a cut (or close) ends it
    await until("the silenced connection is reset", () => old.closed);
    await until("the server side is reset", () => servers[0]?.closed === true);
  });

  it("throws once the proxy is closed", async () => {
    const { proxy } = await echoBehindProxy();
    await proxy.close();
    expect(() => proxy.silence()).toThrow("fault proxy is closed");
  });
});
