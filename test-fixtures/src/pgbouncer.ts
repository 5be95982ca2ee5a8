/**
 * A real PgBouncer in front of a test server, for the tests that run Lifeguard behind one.
 *
 * The binary is the system's (Debian's `pgbouncer` package: `/usr/sbin/pgbouncer`); `.ci/run`
 * installs it when missing. Each `startPgBouncer()` runs its own process with its own config file in
 * a new temp directory, on a free port on 127.0.0.1, with no Unix socket, in the foreground (never the
 * package's service or its port 6432). Clients are trusted (`auth_type = trust`, the user listed in
 * the auth file, with the target's password when it has one so PgBouncer can log in to the server);
 * every database name is forwarded to the same database on the target server (`* = host=... port=...`),
 * so `useTestDatabase()` databases work through it unchanged: `bouncer.urlFor(db.url)`.
 *
 * PgBouncer refuses to run as root: as root it runs as the OS user `postgres` (Node's `uid`/`gid`
 * spawn options, as the embedded server does), created with `groupadd`/`useradd` when missing.
 *
 * Tests that need it register with `describe.skipIf(skipWithoutPgBouncer(...))`, which says on stderr
 * why they are skipped when PgBouncer is not installed; `LIFEGUARD_REQUIRE_PGBOUNCER=1` (set by
 * `.ci/run` once the package is installed) turns that skip into a failure.
 */
import { spawnSync } from "node:child_process";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { existsSync } from "node:fs";
import { chown, writeFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, vi } from "vitest";
import {
  acquireTimeoutTest,
  type ConformanceExpectations,
  type ConformanceFactory,
  type ConformanceOptions,
  type ConformanceRow,
  type ConformanceSubject,
  conformanceTable,
  expectError,
  lifeguardExpectations,
  pidOf,
  runConformanceSuite,
  sqlStates,
  terminateBackends,
  useConformanceHarness,
} from "./conformance.js";
import { useBeforeAll, useTestDatabase } from "./database.js";
import {
  freePort,
  launchServer,
  ManagedServer,
  makeServerTempDir,
  type ServerUser,
  serverUser,
} from "./embedded-server.js";

/** Where Debian's package puts the binary. */
export const PGBOUNCER_BINARY = "/usr/sbin/pgbouncer";
const LABEL = "PgBouncer";
const HOST = "127.0.0.1";
/** The user PgBouncer logs in to the server as when the target URL names none. */
const DEFAULT_USER = "postgres";
const READY_LINE = "process up";
const INSTALL_HINT =
  "install it with `apt-get install -y pgbouncer` (Debian/Ubuntu; .ci/run does this), or set LIFEGUARD_PGBOUNCER_BIN to a pgbouncer binary";

export type PgBouncerPoolMode = "session" | "transaction" | "statement";

export interface PgBouncerOptions {
  /** The server to pool, as a URL: its host, port, user and password are used. */
  target: string;
  /** PgBouncer's `pool_mode`. */
  poolMode: PgBouncerPoolMode;
  /** Server connections per database/user pair (`default_pool_size`). Default 20, PgBouncer's. */
  defaultPoolSize?: number;
  /** Client connections PgBouncer accepts (`max_client_conn`). Default 100, PgBouncer's. */
  maxClientConn?: number;
  /**
   * `max_prepared_statements` (PgBouncer ≥ 1.21 tracks named statements in transaction mode).
   * Older versions do not know the setting and refuse to start: this throws there instead.
   */
  maxPreparedStatements?: number;
  /** More `[pgbouncer]` settings, written as `name = value`. */
  settings?: Record<string, string | number>;
  /** Receives every line PgBouncer logs. Default: kept in memory only (see `logs()`). */
  log?: (line: string) => void;
  /** How long a start may take. Default 20 000 ms. */
  startTimeoutMillis?: number;
}

export interface PgBouncer {
  /** The target URL, with PgBouncer's host and port: same user, database and parameters. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly poolMode: PgBouncerPoolMode;
  /** `1.18.0` */
  readonly version: string;
  /** True between a finished `start()` and `stop()`. */
  readonly running: boolean;
  readonly pid: number | undefined;
  /** Any URL on the target server (another database, extra parameters), routed through PgBouncer. */
  urlFor(serverUrl: string): string;
  /** Runs a command on PgBouncer's admin console (`SHOW POOLS`, `SHOW SERVERS`, ...). */
  admin(command: string): Promise<Record<string, unknown>[]>;
  /** The last lines (up to 500) PgBouncer logged. */
  logs(): string[];
  /** Starts again on the same port with the same config. No-op when running. */
  start(): Promise<void>;
  /**
   * Immediate shutdown (SIGTERM before 1.23, SIGQUIT from 1.23): every client and server
   * connection is closed at once. Awaits the exit. Idempotent.
   */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Stop, then remove the temp directory. Idempotent. */
  destroy(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

// --- availability -----------------------------------------------------------------------------------

interface Availability {
  binary: string | undefined;
  version: string | undefined;
  reason: string | undefined;
}

let availability: Availability | undefined;

function detect(): Availability {
  availability ??= (() => {
    const override = process.env["LIFEGUARD_PGBOUNCER_BIN"];
    const binary = override || findBinary();
    if (binary === undefined) {
      return {
        binary,
        version: undefined,
        reason: `PgBouncer is not installed (${PGBOUNCER_BINARY} not found, no pgbouncer on PATH): ${INSTALL_HINT}.`,
      };
    }
    const result = spawnSync(binary, ["--version"], { encoding: "utf8", timeout: 10_000 });
    const version = /PgBouncer (\d+\.\d+\.\d+)/.exec(result.stdout ?? "")?.[1];
    if (result.error || result.status !== 0 || version === undefined) {
      const why = result.error?.message ?? `exited with ${result.status}: ${result.stderr?.trim()}`;
      return {
        binary,
        version: undefined,
        reason: `PgBouncer at ${binary} cannot run (\`${binary} --version\` ${why}): ${INSTALL_HINT}.`,
      };
    }
    return { binary, version, reason: undefined };
  })();
  return availability;
}

function findBinary(): string | undefined {
  if (existsSync(PGBOUNCER_BINARY)) return PGBOUNCER_BINARY;
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    if (dir !== "" && existsSync(join(dir, "pgbouncer"))) return join(dir, "pgbouncer");
  }
  return undefined;
}

/** True when a PgBouncer binary is installed and runs. */
export function pgbouncerAvailable(): boolean {
  return detect().reason === undefined;
}

/** Why PgBouncer cannot be used here (what is missing, how to install it); undefined when it can. */
export function pgbouncerUnavailableReason(): string | undefined {
  return detect().reason;
}

/** The installed PgBouncer's version (`1.18.0`), or undefined. */
export function pgbouncerVersion(): string | undefined {
  return detect().version;
}

/** `pgbouncerAtLeast("1.18.0", "1.21.0")` → false: compares dotted versions numerically. */
export function pgbouncerAtLeast(version: string, minimum: string): boolean {
  const a = version.split(".").map(Number);
  const b = minimum.split(".").map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/**
 * For `describe.skipIf(...)`: true when this file's PgBouncer tests must be skipped, and then it says
 * so on stderr, naming what is missing and how to install it (never a silent skip). With
 * `LIFEGUARD_REQUIRE_PGBOUNCER=1` it never skips: the tests run and fail with the reason instead.
 */
export function skipWithoutPgBouncer(testFile: string): boolean {
  const reason = pgbouncerUnavailableReason();
  if (reason === undefined) return false;
  if (process.env["LIFEGUARD_REQUIRE_PGBOUNCER"] === "1") return false;
  const file = testFile.replace(/^file:\/\//, "").replace(/^.*\/(packages|test-fixtures)\//, "$1/");
  console.warn(`SKIPPED: the PgBouncer tests in ${file}. ${reason}`);
  return true;
}

// --- start ------------------------------------------------------------------------------------------

/** Start a PgBouncer in front of `options.target`; resolves when it accepts connections. */
export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  const found = detect();
  if (found.reason !== undefined || found.binary === undefined || found.version === undefined) {
    throw new Error(`startPgBouncer: ${found.reason}`);
  }
  if (options.maxPreparedStatements !== undefined && !pgbouncerAtLeast(found.version, "1.21.0")) {
    throw new Error(
      `startPgBouncer: maxPreparedStatements needs PgBouncer 1.21 or later; this one is ${found.version}, which does not know max_prepared_statements (and refuses to start with it).`,
    );
  }
  const user = await serverUser(LABEL);
  const dir = await makeServerTempDir(user, "lifeguard-pgbouncer-", { label: LABEL });
  const bouncer = new Bouncer(found.binary, found.version, dir, user, options);
  return await launchServer(bouncer, {
    prepare: async () => bouncer.writeConfig(await freePort()),
    movePort: (port) => bouncer.writeConfig(port),
  });
}

/**
 * Start a PgBouncer in `beforeAll` and destroy it in `afterAll`. `target` defaults to the shared
 * server (`inject("pgUrl")`); pass a function to read a URL that exists only once hooks run (a
 * `usePrivateServer()`'s). The returned object forwards to the PgBouncer (valid inside tests).
 */
export function usePgBouncer(
  options: Omit<PgBouncerOptions, "target"> & { target?: string | (() => string) },
): PgBouncer {
  return useBeforeAll(
    "usePgBouncer(): the PgBouncer",
    () => {
      const { target, ...rest } = options;
      const url = typeof target === "function" ? target() : (target ?? inject("pgUrl"));
      return startPgBouncer({ ...rest, target: url });
    },
    (bouncer) => bouncer.destroy(),
  );
}

// ---------------------------------------------------------------------------------------------------

class Bouncer extends ManagedServer implements PgBouncer {
  readonly host = HOST;
  readonly poolMode: PgBouncerPoolMode;
  readonly version: string;
  #port = 0;
  readonly #dir: string;
  readonly #user: ServerUser | undefined;
  readonly #options: PgBouncerOptions;
  readonly #target: URL;

  constructor(
    binary: string,
    version: string,
    dir: string,
    user: ServerUser | undefined,
    options: PgBouncerOptions,
  ) {
    super({
      label: LABEL,
      command: binary,
      dir,
      user,
      readyLine: READY_LINE,
      startTimeoutMillis: options.startTimeoutMillis ?? 20_000,
      // immediate shutdown: PgBouncer closes every client and server connection and exits
      shutdown: {
        signal: pgbouncerAtLeast(version, "1.23.0") ? "SIGQUIT" : "SIGTERM",
        escalate: [{ signal: "SIGKILL", afterMillis: 10_000 }],
      },
      orphanShutdown: { signal: "SIGKILL" },
      log: options.log,
    });
    this.version = version;
    this.#dir = dir;
    this.#user = user;
    this.#options = options;
    this.poolMode = options.poolMode;
    this.#target = new URL(options.target);
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return this.urlFor(this.#options.target);
  }

  urlFor(serverUrl: string): string {
    const url = new URL(serverUrl);
    url.hostname = HOST;
    url.port = String(this.#port);
    return url.toString();
  }

  async admin(command: string): Promise<Record<string, unknown>[]> {
    const url = new URL(this.url);
    url.pathname = "/pgbouncer";
    url.search = "";
    const client = new pg.Client({ connectionString: url.toString() });
    client.on("error", () => undefined);
    await client.connect();
    try {
      // the admin console speaks only the simple query protocol: no parameters
      const result = await client.query<Record<string, unknown>>(command);
      return result.rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Writes the config and auth file for this port. */
  async writeConfig(port: number): Promise<void> {
    this.#port = port;
    const target = this.#target;
    const user = decodeURIComponent(target.username || DEFAULT_USER);
    const password = decodeURIComponent(target.password);
    const settings: Record<string, string | number> = {
      listen_addr: HOST,
      listen_port: port,
      unix_socket_dir: "", // TCP only: no socket file to collide with another instance's
      auth_type: "trust",
      auth_file: join(this.#dir, "userlist.txt"),
      admin_users: user,
      pool_mode: this.#options.poolMode,
      default_pool_size: this.#options.defaultPoolSize ?? 20,
      max_client_conn: this.#options.maxClientConn ?? 100,
      ...(this.#options.maxPreparedStatements === undefined
        ? {}
        : { max_prepared_statements: this.#options.maxPreparedStatements }),
      ...this.#options.settings,
    };
    const lines = [
      "[databases]",
      // every database name goes to the same database on the target server
      `* = host=${target.hostname.replace(/^\[|\]$/g, "")} port=${target.port || "5432"}`,
      "",
      "[pgbouncer]",
    ];
    for (const [name, value] of Object.entries(settings)) {
      if (!/^[a-z_]+$/.test(name) || /[\r\n]/.test(String(value))) {
        throw new Error(`startPgBouncer: invalid setting ${JSON.stringify(name)}`);
      }
      lines.push(`${name} = ${value}`);
    }
    const users = join(this.#dir, "userlist.txt");
    await writeFile(this.#ini(), `${lines.join("\n")}\n`, { mode: 0o644 });
    // the password (when the target has one) is what PgBouncer logs in to the server with
    await writeFile(users, `${quote(user)} ${quote(password)}\n`, { mode: 0o600 });
    if (this.#user) await chown(users, this.#user.uid, this.#user.gid);
  }

  protected override serverArgs(): string[] {
    return [this.#ini()];
  }

  protected override describe(): string {
    return `port ${this.#port}, config ${this.#ini()}`;
  }

  #ini(): string {
    return join(this.#dir, "pgbouncer.ini");
  }
}

/** An auth_file field: double-quoted, quotes doubled. */
function quote(value: string): string {
  return `"${value.replaceAll('"', '""')}"`;
}

// --- the conformance suite in PgBouncer's transaction mode ------------------------------------------

export interface TransactionModeSuiteOptions {
  /**
   * The subject is a Lifeguard pool with `pgbouncer: 'transaction'`: a statement that leaves session
   * state behind raises one `LIFEGUARD_PGBOUNCER_SESSION_STATE` warning (`lifeguard:pool:warning`).
   */
  readonly warnsOnSessionState: boolean;
}

/**
 * The conformance suite's cases, for a subject behind PgBouncer in transaction mode without
 * prepared-statement support (PgBouncer < 1.21, or `max_prepared_statements = 0`), configured as
 * docs/pgbouncer.md recommends there (`pgbouncer: 'transaction'`, `namedStatements: false`).
 *
 * `runConformanceSuite` cannot run there unchanged, for reasons that are PgBouncer's design rather
 * than the subject's: its named-statement cases require a statement named on the server (sent
 * unnamed, there is none, and a named one collides with another client's: 42P05/26000), and its
 * close case counts the subject's server backends by `application_name`, which in transaction mode
 * belong to PgBouncer and outlive every client. Here those cases assert what holds instead, and the
 * rest are the same: CRUD, transactions, backends killed, acquire timeout. The factory is the same
 * as for `runConformanceSuite` and receives the database's direct URL: route it through `bouncer`.
 */
export function runTransactionModeSuite(
  name: string,
  bouncer: PgBouncer,
  factory: ConformanceFactory,
  options: TransactionModeSuiteOptions,
): void {
  describe(name, () => {
    const db = useTestDatabase(`txmode_${name}`);
    const warnings: { code?: string; message?: string }[] = [];
    const onWarning = (event: unknown) => warnings.push(event as (typeof warnings)[number]);

    beforeAll(async () => {
      if (bouncer.poolMode !== "transaction") {
        throw new Error(`runTransactionModeSuite: PgBouncer runs in ${bouncer.poolMode} mode`);
      }
      subscribe("lifeguard:pool:warning", onWarning);
    });
    afterAll(() => {
      unsubscribe("lifeguard:pool:warning", onWarning);
    });
    beforeEach(() => {
      warnings.length = 0;
    });
    const harness = useConformanceHarness(db, factory, "lgtx");
    const { start, items, hold } = harness;

    it("routes through PgBouncer in transaction mode", async () => {
      const { subject, applicationName } = await start({ max: 1 });
      expect(await subject.query("select 1 as one")).toEqual([{ one: 1 }]);
      expect(await clientsNamed(bouncer, applicationName)).toBe(1);
      const pools = await bouncer.admin("SHOW POOLS");
      expect(pools.find((pool) => pool["database"] === db.name)?.["pool_mode"]).toBe("transaction");
    });

    it("CRUD: insert, select, update and delete with parameters", async () => {
      const { subject } = await start({ max: 2 });
      expect(
        await subject.query(
          `insert into ${conformanceTable} (id, label) values ($1, $2), ($3, $4) returning id, label`,
          [1, "one", 2, "two"],
        ),
      ).toEqual([
        { id: 1, label: "one" },
        { id: 2, label: "two" },
      ]);
      expect(
        await subject.query(
          `update ${conformanceTable} set label = $1 where id = $2 returning id, label`,
          ["uno", 1],
        ),
      ).toEqual([{ id: 1, label: "uno" }]);
      expect(
        await subject.query(`delete from ${conformanceTable} where id = $1 returning id`, [2]),
      ).toEqual([{ id: 2 }]);
      expect(await items()).toEqual([{ id: 1, label: "uno" }]);
    });

    describe("transactions", () => {
      it("commit, rollback on a throw, and a nested one on a savepoint", async () => {
        const { subject } = await start({ max: 2 });
        expect(
          await subject.transaction(async (tx) => {
            await tx.query(`insert into ${conformanceTable} (id, label) values (1, 'a')`);
            return "done";
          }),
        ).toBe("done");
        const boom = new Error("roll it back");
        expect(
          await subject
            .transaction(async (tx) => {
              await tx.query(`insert into ${conformanceTable} (id, label) values (2, 'lost')`);
              throw boom;
            })
            .catch((error: unknown) => error),
        ).toBe(boom);
        await subject.transaction(async (tx) => {
          await tx.query(`insert into ${conformanceTable} (id, label) values (3, 'outer')`);
          const inner = await tx
            .transaction(async (nested) => {
              await nested.query(`insert into ${conformanceTable} (id, label) values (4, 'inner')`);
              throw boom;
            })
            .catch((error: unknown) => error);
          expect(inner).toBe(boom);
        });
        expect((await items()).map((item) => item.id)).toEqual([1, 3]);
      });

      it("an SQL error inside rolls it back; the next request works", async () => {
        const { subject } = await start({ max: 1 });
        await subject.query(`insert into ${conformanceTable} (id, label) values (1, 'one')`);
        const outcome = await subject
          .transaction(async (tx) => {
            await tx.query(`insert into ${conformanceTable} (id, label) values (2, 'two')`);
            await tx.query(`insert into ${conformanceTable} (id, label) values (1, 'duplicate')`);
          })
          .catch((error: unknown) => error);
        expect(sqlStates(outcome)).toContain("23505");
        expect(await items()).toEqual([{ id: 1, label: "one" }]);
        expect(await subject.query("select 1 as one")).toEqual([{ one: 1 }]);
      });

      it("runs every statement on one backend, invisible outside until commit", async () => {
        const { subject } = await start({ max: 2 });
        const identity = "select pg_backend_pid() as pid, txid_current()::text as xid";
        await subject.transaction(async (tx) => {
          const [first] = await tx.query(identity);
          await tx.query(`insert into ${conformanceTable} (id, label) values (10, 'inside')`);
          expect(
            await subject.query(`select count(*)::int as n from ${conformanceTable} where id = 10`),
          ).toEqual([{ n: 0 }]);
          expect(await tx.query(identity)).toEqual([first]);
        });
        expect(await items()).toEqual([{ id: 10, label: "inside" }]);
      });
    });

    describe("named statements (sent unnamed)", () => {
      const statement = "conformance_lookup";

      it("give the right rows from several instances at once; nothing is prepared on the server", async () => {
        const { subject: a } = await start({ max: 2 });
        const { subject: b } = await start({ max: 2 });
        await a.query(`insert into ${conformanceTable} (id, label) values (1, 'one'), (2, 'two')`);
        const lookupA = a.prepared(statement);
        const lookupB = b.prepared(statement);
        // with the name sent, b's Parse would hit a's statement on the shared server connection
        expect(await lookupA(1)).toEqual([{ id: 1, label: "one" }]);
        expect(await lookupB(2)).toEqual([{ id: 2, label: "two" }]);
        // a's own next execution while its last server connection is busy with b's transaction
        const busy = await hold(b);
        expect(await lookupA(2)).toEqual([{ id: 2, label: "two" }]);
        busy.release();
        await busy.held;
        // two transactions at once hold two server connections: neither has a statement
        const seen: ConformanceRow[][] = [];
        const first = await hold(a, async (tx) => {
          seen.push(
            await tx.query(
              "select pg_backend_pid() as pid, count(*)::int as n from pg_prepared_statements",
            ),
          );
        });
        const second = await hold(b, async (tx) => {
          seen.push(
            await tx.query(
              "select pg_backend_pid() as pid, count(*)::int as n from pg_prepared_statements",
            ),
          );
        });
        first.release();
        second.release();
        await Promise.all([first.held, second.held]);
        expect(seen.map((rows) => rows[0]?.["n"])).toEqual([0, 0]);
        expect(seen[0]?.[0]?.["pid"]).not.toBe(seen[1]?.[0]?.["pid"]);
      });

      it("keep working after the application's own DEALLOCATE ALL", async () => {
        const { subject } = await start({ max: 1 });
        await subject.query(`insert into ${conformanceTable} (id, label) values (1, 'one')`);
        const lookup = subject.prepared(statement);
        expect(await lookup(1)).toEqual([{ id: 1, label: "one" }]);
        await subject.query("deallocate all");
        expect(await lookup(1)).toEqual([{ id: 1, label: "one" }]);
      });
    });

    it("session state: a SET is not reset (PgBouncer owns server sessions) and is warned about", async () => {
      const { subject } = await start({ max: 1 });
      const show = async () =>
        (await subject.query("show statement_timeout"))[0]?.["statement_timeout"];
      const before = await show();
      expect(before).not.toBe("4321ms");
      try {
        await subject.query("set statement_timeout = '4321ms'");
        // neither Lifeguard nor PgBouncer reset it: it stays on that server connection
        expect(await show()).toBe("4321ms");
      } finally {
        await subject.query("reset statement_timeout");
      }
      const session = warnings.filter((w) => w.code === "LIFEGUARD_PGBOUNCER_SESSION_STATE");
      if (options.warnsOnSessionState) {
        // once per kind (SET, RESET ...), not once per statement
        expect(session.map((w) => /a (\S+) statement/.exec(w.message ?? "")?.[1])).toEqual([
          "SET",
          "RESET",
        ]);
      } else {
        expect(session).toEqual([]);
      }
    });

    describe("a backend killed", () => {
      it("while idle: the next requests succeed on a new backend", async () => {
        const { subject } = await start({ max: 1 });
        const pid = await pidOf(subject);
        await terminateBackends(db.url, [pid]);
        for (let i = 0; i < 5; i++) expect(await pidOf(subject)).not.toBe(pid);
      });

      it("in a transaction: that transaction fails, the next one works", async () => {
        const { subject } = await start({ max: 1 });
        let killed: number | undefined;
        const outcome = await subject
          .transaction(async (tx) => {
            await tx.query(`insert into ${conformanceTable} (id, label) values (1, 'lost')`);
            killed = await pidOf(tx);
            await terminateBackends(db.url, [killed]);
            await tx.query("select 1");
          })
          .then(
            () => "committed",
            (error: unknown) => error,
          );
        expect(outcome).toBeInstanceOf(Error);
        const next = await subject.transaction(async (tx) => {
          await tx.query(`insert into ${conformanceTable} (id, label) values (2, 'kept')`);
          return pidOf(tx);
        });
        expect(next).not.toBe(killed);
        expect(await items()).toEqual([{ id: 2, label: "kept" }]);
      });
    });

    acquireTimeoutTest(harness);

    it("close: every client connection to PgBouncer ends and later requests fail", async () => {
      const { subject, applicationName } = await start({ max: 2 });
      const { release, held } = await hold(subject);
      expect(await subject.query("select 1 as one")).toEqual([{ one: 1 }]);
      release();
      await held;
      expect(await clientsNamed(bouncer, applicationName)).toBe(2);

      await subject.close();
      await vi.waitFor(async () => expect(await clientsNamed(bouncer, applicationName)).toBe(0), {
        timeout: 10_000,
      });
      // the server connections are PgBouncer's: they stay for its next clients
      expect((await bouncer.admin("SHOW SERVERS")).length).toBeGreaterThan(0);
      expectError(
        await subject.query("select 1").catch((error: unknown) => error),
        subject.expectations.closedError,
      );
    });
  });
}

// --- an adapter's PgBouncer suites ------------------------------------------------------------------

/** Lifeguard's PgBouncer options for one pool mode, as docs/pgbouncer.md recommends them. */
export type PgBouncerPoolSettings =
  | { readonly pgbouncer: "session" }
  | { readonly pgbouncer: "transaction"; readonly namedStatements: false };

/**
 * An adapter's PgBouncer suites on Lifeguard, in a `describe` block skipped (and said so) without
 * PgBouncer: `runConformanceSuite` through a session-mode PgBouncer (Lifeguard resets sessions as it
 * would directly) and `runTransactionModeSuite` through a transaction-mode one with
 * `namedStatements: false` (it does not, and warns about session state). `factory` builds the ORM
 * on Lifeguard from the suite's options (their URL already routed through PgBouncer) plus
 * `poolSettings`, and returns its subject with `expectations` (see `lifeguardExpectations`;
 * `acquireTimeoutMessage` is the ORM's wording of an acquire timeout).
 */
export function runPgBouncerSuites(
  adapter: string,
  testFile: string,
  acquireTimeoutMessage: RegExp,
  factory: (
    options: ConformanceOptions,
    expectations: ConformanceExpectations,
    poolSettings: PgBouncerPoolSettings,
  ) => ConformanceSubject | Promise<ConformanceSubject>,
): void {
  const through =
    (bouncer: PgBouncer, poolSettings: PgBouncerPoolSettings): ConformanceFactory =>
    (options) =>
      factory(
        { ...options, url: bouncer.urlFor(options.url) },
        lifeguardExpectations(acquireTimeoutMessage, poolSettings.pgbouncer === "session"),
        poolSettings,
      );
  const skip = skipWithoutPgBouncer(testFile);
  describe.skipIf(skip)(`${adapter} on Lifeguard through a real PgBouncer`, () => {
    const session = usePgBouncer({ poolMode: "session" });
    const transaction = usePgBouncer({ poolMode: "transaction", defaultPoolSize: 4 });
    runConformanceSuite(
      `${adapter} via PgBouncer (session mode)`,
      through(session, { pgbouncer: "session" }),
    );
    runTransactionModeSuite(
      `${adapter} via PgBouncer (transaction mode, namedStatements: false)`,
      transaction,
      through(transaction, { pgbouncer: "transaction", namedStatements: false }),
      { warnsOnSessionState: true },
    );
  });
}

/** This application's client connections to PgBouncer (SHOW CLIENTS; application_name since 1.18). */
async function clientsNamed(bouncer: PgBouncer, applicationName: string): Promise<number> {
  const clients = await bouncer.admin("SHOW CLIENTS");
  return clients.filter((client) => client["application_name"] === applicationName).length;
}
