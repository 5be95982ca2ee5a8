import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import type { Environment } from "./types.js";

/** The machine and software a run happened on (suite-specific lines go in `extra`). */
export function describeEnvironment(extra: Readonly<Record<string, string>> = {}): Environment {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    cpu: cpus[0]?.model.trim() ?? "unknown",
    cores: typeof os.availableParallelism === "function" ? os.availableParallelism() : cpus.length,
    os: `${distribution()} (${os.type()} ${os.release()} ${os.arch()})`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    loadAverage: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" / "),
    commit: gitCommit(),
    extra,
  };
}

function distribution(): string {
  try {
    const text = readFileSync("/etc/os-release", "utf8");
    const match = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text);
    if (match?.[1] !== undefined) return match[1];
  } catch {
    // not Linux
  }
  return os.version();
}

function gitCommit(): string {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    const dirty =
      execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }).trim() !== "";
    return dirty ? `${commit} + uncommitted changes` : commit;
  } catch {
    return "unknown";
  }
}

const require = createRequire(import.meta.url);

/**
 * The installed version of a dependency, read from its package.json (found by walking up from its
 * entry point, since many packages do not export `./package.json`).
 */
export function packageVersion(name: string): string {
  try {
    let dir = path.dirname(require.resolve(name));
    for (;;) {
      const file = path.join(dir, "package.json");
      if (existsSync(file)) {
        const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
        if (pkg.name === name && pkg.version !== undefined) return pkg.version;
      }
      const parent = path.dirname(dir);
      if (parent === dir) return "unknown";
      dir = parent;
    }
  } catch {
    return "unknown";
  }
}
