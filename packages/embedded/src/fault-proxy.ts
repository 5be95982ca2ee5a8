/**
 * An in-process TCP proxy that sits between a client (the pool) and a server (PostgreSQL) and
 * injects network faults on demand: latency, refused connections, resets and a blackhole.
 *
 * ```ts
 * const proxy = await startFaultProxy(pgUrl);
 * const pool = new Pool({ connectionString: proxy.url() });
 * await proxy.blackhole(); // the wire goes silent
 * await proxy.pass();      // and heals
 * proxy.silence();         // the open connections die silently; new ones work
 * await proxy.close();
 * ```
 *
 * @module
 */
import {
  type AddressInfo,
  createConnection,
  createServer,
  type Server,
  type Socket,
} from "node:net";

/**
 * What the proxy does right now. Exactly one mode holds at a time; latency is independent of it.
 *
 * - `pass`: accept and forward (the default).
 * - `blackhole`: accept, but nothing crosses the wire in either direction, for new and open
 *   connections alike. Nothing is lost either: see {@link FaultProxy.blackhole}.
 * - `refused`: the listener is closed, so new connections get `ECONNREFUSED`; open connections
 *   keep forwarding.
 */
export type FaultMode = "pass" | "blackhole" | "refused";

/** Where the proxy forwards to. */
export interface FaultTarget {
  readonly host: string;
  readonly port: number;
}

/** A running fault proxy. Obtain one from {@link startFaultProxy}. */
export interface FaultProxy extends AsyncDisposable {
  /** The address clients connect to: always `127.0.0.1`. */
  readonly host: string;
  /** The port clients connect to. Chosen at start and kept for the proxy's life, across refuse(). */
  readonly port: number;
  /** Where traffic is forwarded. */
  readonly target: FaultTarget;
  /** The current mode. */
  readonly mode: FaultMode;
  /** Client connections that are open now (including those held by a blackhole). */
  readonly connections: number;
  /** Client connections accepted since start. */
  readonly accepted: number;
  /**
   * Rewrites a `postgres://` URL so that it connects through the proxy: host and port are replaced
   * (and `host`/`port` query parameters, which would override them, are removed); user, password,
   * database and the other parameters are kept. Without an argument, rewrites the URL the proxy was
   * started with.
   *
   * ```ts
   * const client = new pg.Client({ connectionString: proxy.url() });
   * ```
   */
  url(targetUrl?: string): string;
  /**
   * Back to normal forwarding. Heals a blackhole (held bytes are delivered, in order) and, after
   * refuse(), listens again on the same port. Resolves once new connections are accepted.
   */
  pass(): Promise<void>;
  /**
   * Delays every chunk, in both directions, by `ms` (0 turns latency off). Applies to chunks read
   * from now on. Order is always preserved: a chunk is never delivered before one read earlier
   * from the same side, even if the latency was lowered in between.
   */
  latency(ms: number): void;
  /**
   * Closes the listener so new connections get `ECONNREFUSED`, as from a host whose server is down.
   * Open connections are not touched (and a blackhole on them is lifted): combine with cut() to
   * simulate a server that went away.
   */
  refuse(): Promise<void>;
  /**
   * Resets every open connection now, on both sides (a TCP RST, so the client sees `ECONNRESET`;
   * a socket still connecting, or one whose FIN the proxy is still sending, is closed instead),
   * like a firewall dropping its state table. The mode is unchanged: in `pass`, new connections
   * work at once.
   */
  cut(): void;
  /**
   * The wire goes silent, like a network partition: new connections are accepted (the client sees
   * its connect succeed) but not forwarded; open connections stop forwarding in both directions.
   * Sockets stay open and nothing is closed or reset, including a close by either side, which is
   * held as well.
   *
   * Held bytes are not dropped: a byte stream cannot lose bytes in the middle and live on (TCP
   * retransmits until the partition heals or the connection times out), and dropping them would
   * desynchronise the PostgreSQL protocol in ways no real network can. So pass() delivers what was
   * held, in order, and connects upstream the connections accepted meanwhile. To model connections
   * that did not survive the partition, cut() before pass(). Reading stops while held, so the
   * bytes wait in socket buffers rather than in memory.
   *
   * Takes effect at once; the promise resolves once new connections are accepted (immediately,
   * unless the proxy was refusing).
   */
  blackhole(): Promise<void>;
  /**
   * The connections open now go silent for good, as when an idle-timeout firewall, a NAT or a
   * failed-over address forgets them: nothing crosses them again in either direction, and nothing
   * closes them (no FIN, no RST; a close by either side is held too). New connections are forwarded
   * as usual, whatever happens to the silenced ones, which only cut() or close() end (with a reset).
   * Independent of the mode.
   */
  silence(): void;
  /**
   * Stops listening and resets every connection. Idempotent: every call returns the same promise,
   * which resolves once the port is free and every socket of the proxy is closed. Once close() has
   * been called, cut() and latency() throw and pass(), blackhole() and refuse() reject.
   */
  close(): Promise<void>;
}

/**
 * Starts a fault proxy on a free port of `127.0.0.1`, forwarding to `target`: either `{ host, port }`
 * or a `postgres://` URL (port 5432 when it names none). Starts in `pass` mode with no latency.
 */
export async function startFaultProxy(target: FaultTarget | string): Promise<FaultProxy> {
  const proxy = new TcpFaultProxy(target);
  await proxy.start();
  return proxy;
}

const LOOPBACK = "127.0.0.1";
const DEFAULT_POSTGRES_PORT = 5432;

/** What travels through a lane: bytes, then at most one end (FIN) or reset (RST). */
type Segment =
  | { readonly kind: "data"; readonly bytes: Buffer }
  | { readonly kind: "end" }
  | { readonly kind: "reset" };

interface Queued {
  readonly segment: Segment;
  due: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** @internal what a lane needs to know about the proxy's current fault */
interface Wire {
  /** true while nothing may cross (a blackhole) */
  held(): boolean;
  delayMs(): number;
}

const ignore = (): void => {};

/**
 * @internal Sends an RST where possible, and always destroys the socket (so 'close' follows).
 *
 * Two sockets are destroyed without an RST. One still connecting has nothing to reset. One whose
 * FIN is still on its way (end() was called, 'finish' has not happened yet) cannot be reset: its
 * shutdown request is pending, so resetAndDestroy() fails with EINVAL. Node then marks it destroyed,
 * but it never closes the handle or emits 'close', and close() would wait for it forever.
 */
function reset(socket: Socket): void {
  if (socket.destroyed) return;
  const finPending = socket.writableEnded && !socket.writableFinished;
  if (socket.connecting || finPending) socket.destroy();
  else socket.resetAndDestroy();
}

/**
 * @internal One direction of a connection: reads `from`, delivers to `to()` in arrival order.
 *
 * Each segment waits for its own latency timer *and* for every segment ahead of it, so order holds
 * even when the latency changes. Nothing is delivered while the wire is held.
 */
class Lane {
  readonly #wire: Wire;
  readonly #from: Socket;
  readonly #to: () => Socket | undefined;
  #queue: Queued[] = [];
  #congested = false;
  #disposed = false;

  constructor(wire: Wire, from: Socket, to: () => Socket | undefined) {
    this.#wire = wire;
    this.#from = from;
    this.#to = to;
  }

  push(segment: Segment): void {
    if (this.#disposed) return;
    const delayMs = this.#wire.delayMs();
    const queued: Queued = { segment, due: delayMs === 0, timer: undefined };
    if (delayMs > 0) {
      queued.timer = setTimeout(() => {
        queued.timer = undefined;
        queued.due = true;
        this.pump();
      }, delayMs);
    }
    this.#queue.push(queued);
    this.pump();
  }

  /** delivers the due segments at the head of the queue, then lets the source flow if it may */
  pump(): void {
    const to = this.#to();
    if (!this.#disposed && to !== undefined && !this.#wire.held()) {
      while (this.#queue[0]?.due === true) {
        const head = this.#queue.shift();
        if (head !== undefined) this.#deliver(to, head.segment);
      }
    }
    this.flow();
  }

  /** reads from the source only while the wire is open and the destination keeps up */
  flow(): void {
    if (this.#disposed) return;
    const blocked = this.#wire.held() || this.#congested || this.#to() === undefined;
    if (blocked) this.#from.pause();
    else this.#from.resume();
  }

  /** drops everything queued: the destination is gone or the connection was cut */
  dispose(): void {
    this.#disposed = true;
    for (const queued of this.#queue) clearTimeout(queued.timer);
    this.#queue = [];
  }

  #deliver(to: Socket, segment: Segment): void {
    if (to.destroyed) return;
    switch (segment.kind) {
      case "data":
        if (!to.write(segment.bytes) && !this.#congested) {
          this.#congested = true;
          to.once("drain", () => {
            this.#congested = false;
            this.flow();
          });
        }
        return;
      case "end":
        to.end();
        return;
      case "reset":
        reset(to);
        return;
      default:
        segment satisfies never;
    }
  }
}

/**
 * @internal Feeds what `from` sends into `lane`: data, then a FIN as `end`, or an abortive close
 * as `reset`. Once `from` is closed, nothing can be delivered to it, so `back` is disposed.
 */
function relay(from: Socket, lane: Lane, back: () => Lane | undefined, onClose: () => void): void {
  let ended = false;
  from.on("data", (bytes: Buffer) => lane.push({ kind: "data", bytes }));
  from.on("end", () => {
    ended = true;
    lane.push({ kind: "end" });
  });
  // the proxy must never crash the process: errors show up as an abortive 'close' below
  from.on("error", ignore);
  from.on("close", (hadError: boolean) => {
    if (hadError || !ended) lane.push({ kind: "reset" });
    back()?.dispose();
    onClose();
  });
}

/** @internal one client connection and, once forwarded, its upstream connection */
class Link {
  readonly client: Socket;
  readonly closed: Promise<void>;
  #upstream: Socket | undefined;
  readonly #toUpstream: Lane;
  #toClient: Lane | undefined;
  readonly #wire: Wire;
  readonly #target: FaultTarget;
  #clientClosed = false;
  #upstreamClosed = false;
  #silenced = false;
  #settle: () => void = ignore;

  constructor(client: Socket, proxyWire: Wire, target: FaultTarget) {
    this.client = client;
    // the proxy's fault, plus this connection's own silence
    const wire: Wire = {
      held: () => this.#silenced || proxyWire.held(),
      delayMs: () => proxyWire.delayMs(),
    };
    this.#wire = wire;
    this.#target = target;
    this.closed = new Promise((resolve) => {
      this.#settle = resolve;
    });
    this.#toUpstream = new Lane(wire, client, () => this.#upstream);
    relay(
      client,
      this.#toUpstream,
      () => this.#toClient,
      () => {
        this.#clientClosed = true;
        this.#settleIfClosed();
      },
    );
    this.#toUpstream.flow();
  }

  /** applies the current mode: hold, or connect upstream if needed and forward */
  update(): void {
    if (!this.#wire.held()) this.#connect();
    this.#toUpstream.pump();
    this.#toClient?.pump();
  }

  /** nothing crosses this connection again, whatever the mode; only cut() ends it */
  silence(): void {
    this.#silenced = true;
    this.update();
  }

  /** resets both sides now and drops whatever is in flight */
  cut(): void {
    this.#toUpstream.dispose();
    this.#toClient?.dispose();
    reset(this.client);
    if (this.#upstream !== undefined) reset(this.#upstream);
  }

  #connect(): void {
    // a client that left while held never gets an upstream connection
    if (this.#upstream !== undefined || this.#clientClosed) return;
    const { host, port } = this.#target;
    const upstream = createConnection({ host, port, allowHalfOpen: true, noDelay: true });
    this.#upstream = upstream;
    const toClient = new Lane(this.#wire, upstream, () => this.client);
    this.#toClient = toClient;
    relay(
      upstream,
      toClient,
      () => this.#toUpstream,
      () => {
        this.#upstreamClosed = true;
        this.#settleIfClosed();
      },
    );
  }

  #settleIfClosed(): void {
    if (this.#clientClosed && (this.#upstream === undefined || this.#upstreamClosed)) {
      this.#settle();
    }
  }
}

/** @internal */
class TcpFaultProxy implements FaultProxy {
  readonly host = LOOPBACK;
  readonly target: FaultTarget;
  readonly #targetUrl: string | undefined;
  #port = 0;
  #mode: FaultMode = "pass";
  #delayMs = 0;
  #accepted = 0;
  readonly #links = new Set<Link>();
  readonly #wire: Wire = {
    held: () => this.#mode === "blackhole",
    delayMs: () => this.#delayMs,
  };
  #server: Server | undefined;
  /** listener changes run one after the other; this is the last one (never rejects) */
  #listener: Promise<void> = Promise.resolve();
  /** servers closed so far, each settling once the sockets it accepted are closed */
  readonly #retired: Promise<void>[] = [];
  #closing: Promise<void> | undefined;

  constructor(target: FaultTarget | string) {
    if (typeof target === "string") {
      this.target = parseTargetUrl(target);
      this.#targetUrl = target;
    } else {
      this.target = { host: target.host, port: target.port };
      this.#targetUrl = undefined;
    }
  }

  get port(): number {
    return this.#port;
  }

  get mode(): FaultMode {
    return this.#mode;
  }

  get connections(): number {
    let open = 0;
    for (const link of this.#links) if (!link.client.destroyed) open++;
    return open;
  }

  get accepted(): number {
    return this.#accepted;
  }

  /** @internal listens on a free port; called once, by startFaultProxy */
  async start(): Promise<void> {
    await this.#listen(0);
  }

  url(targetUrl: string | undefined = this.#targetUrl): string {
    if (targetUrl === undefined) {
      throw new Error("fault proxy url() needs a URL: the proxy was started with { host, port }");
    }
    const url = new URL(targetUrl);
    url.hostname = this.host;
    url.port = String(this.#port);
    for (const key of ["host", "port"]) {
      if (url.searchParams.has(key)) url.searchParams.delete(key);
    }
    return url.toString();
  }

  pass(): Promise<void> {
    return this.#enter("pass");
  }

  blackhole(): Promise<void> {
    return this.#enter("blackhole");
  }

  refuse(): Promise<void> {
    return this.#enter("refused");
  }

  latency(ms: number): void {
    this.#assertOpen();
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`fault proxy latency must be a finite number >= 0, got ${ms}`);
    }
    this.#delayMs = ms;
  }

  cut(): void {
    this.#assertOpen();
    this.#cutAll();
  }

  silence(): void {
    this.#assertOpen();
    for (const link of this.#links) link.silence();
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #enter(mode: FaultMode): Promise<void> {
    this.#assertOpen();
    this.#mode = mode;
    // open connections feel the change at once; only the listener has to wait
    for (const link of this.#links) link.update();
    const step = this.#listener.then(() => this.#syncListener());
    this.#listener = step.catch(ignore);
    await step;
  }

  /** opens or closes the listener to match the mode (and closes it for good once closing) */
  async #syncListener(): Promise<void> {
    const wanted = this.#mode !== "refused" && this.#closing === undefined;
    if (!wanted && this.#server !== undefined) {
      const server = this.#server;
      this.#server = undefined;
      // the listening socket closes now (new connections are refused from here); the callback
      // waits for the sockets this server accepted, so only close() waits for it
      this.#retired.push(new Promise<void>((resolve) => server.close(() => resolve())));
    } else if (wanted && this.#server === undefined) {
      try {
        await this.#listen(this.#port);
      } catch (error) {
        this.#mode = "refused";
        for (const link of this.#links) link.update();
        throw new Error(`fault proxy could not listen again on port ${this.#port}`, {
          cause: error,
        });
      }
    }
  }

  #listen(port: number): Promise<void> {
    const server = createServer(
      { allowHalfOpen: true, pauseOnConnect: true, noDelay: true },
      (client) => this.#accept(client),
    );
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, this.host, () => {
        server.off("error", reject);
        // accept errors (EMFILE and the like) must not crash the process
        server.on("error", ignore);
        this.#server = server;
        this.#port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  #accept(client: Socket): void {
    client.on("error", ignore);
    if (this.#closing !== undefined) {
      reset(client);
      return;
    }
    this.#accepted++;
    const link = new Link(client, this.#wire, this.target);
    this.#links.add(link);
    void link.closed.then(() => this.#links.delete(link));
    link.update();
  }

  async #shutdown(): Promise<void> {
    this.#cutAll();
    const links = [...this.#links];
    await this.#listener;
    await this.#syncListener();
    await Promise.all([...this.#retired, ...links.map((link) => link.closed)]);
  }

  #cutAll(): void {
    for (const link of this.#links) link.cut();
  }

  #assertOpen(): void {
    if (this.#closing !== undefined) throw new Error("fault proxy is closed");
  }
}

/** @internal host and port of a postgres:// URL; the message never echoes the URL (passwords) */
function parseTargetUrl(targetUrl: string): FaultTarget {
  let url: URL;
  try {
    url = new URL(targetUrl);
  } catch (error) {
    throw new Error("fault proxy target is not a valid URL", { cause: error });
  }
  // an IPv6 hostname comes bracketed: [::1]
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (host === "") throw new Error("fault proxy target URL names no host");
  const port = url.port === "" ? DEFAULT_POSTGRES_PORT : Number(url.port);
  return { host, port };
}
