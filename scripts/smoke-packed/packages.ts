import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { mustRun } from "./run-process.js";

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

export interface PublishablePackage {
  /** The folder under packages/ ("pg", "cli" ...). */
  readonly dir: string;
  readonly name: string;
  readonly version: string;
  readonly path: string;
  readonly manifest: Manifest;
}

/** Every package under packages/ that is not private: what `changeset publish` would publish. */
export function publishablePackages(root: string): PublishablePackage[] {
  const packagesDir = join(root, "packages");
  return readdirSync(packagesDir, { withFileTypes: true })
    .filter(
      (entry) => entry.isDirectory() && existsSync(join(packagesDir, entry.name, "package.json")),
    )
    .map((entry) => {
      const path = join(packagesDir, entry.name);
      const manifest = JSON.parse(readFileSync(join(path, "package.json"), "utf8")) as Manifest;
      return { dir: entry.name, name: manifest.name, version: manifest.version, path, manifest };
    })
    .filter((pkg) => pkg.manifest.private !== true)
    .sort((a, b) => a.dir.localeCompare(b.dir));
}

/**
 * The smoke test must test the code in src/, so dist/ has to be built from it: fail when a
 * package's build output is missing or older than a source file.
 */
export function assertBuilt(packages: readonly PublishablePackage[]): void {
  const stale: string[] = [];
  for (const pkg of packages) {
    const built = join(pkg.path, "dist", "index.js");
    if (!existsSync(built)) {
      stale.push(`${pkg.name}: ${built} is missing`);
      continue;
    }
    const builtAt = statSync(built).mtimeMs;
    const newest = newestFile(join(pkg.path, "src"));
    if (newest !== undefined && newest.mtimeMs > builtAt) {
      stale.push(`${pkg.name}: ${newest.path} is newer than dist/`);
    }
  }
  if (stale.length > 0) {
    throw new Error(`Build the packages first (pnpm build):\n  ${stale.join("\n  ")}`);
  }
}

function newestFile(dir: string): { path: string; mtimeMs: number } | undefined {
  let newest: { path: string; mtimeMs: number } | undefined;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const { mtimeMs } = statSync(path);
    if (newest === undefined || mtimeMs > newest.mtimeMs) newest = { path, mtimeMs };
  }
  return newest;
}

/**
 * `pnpm pack` of every package into `destination` (pnpm turns `workspace:*` into the version, as
 * `pnpm publish` does). Returns the tarball of each package by name.
 */
export async function packPackages(
  root: string,
  packages: readonly PublishablePackage[],
  destination: string,
): Promise<Map<string, string>> {
  const filters = packages.flatMap((pkg) => ["--filter", pkg.name]);
  await mustRun("pnpm", ["--recursive", ...filters, "pack", "--pack-destination", destination], {
    cwd: root,
    timeoutMillis: 120_000,
  });
  const tarballs = new Map<string, string>();
  for (const pkg of packages) {
    // pnpm's naming: @scope/name@1.2.3 -> scope-name-1.2.3.tgz
    const file = join(
      destination,
      `${pkg.name.replace(/^@/, "").replace("/", "-")}-${pkg.version}.tgz`,
    );
    if (!existsSync(file)) throw new Error(`pnpm pack did not write ${file}`);
    tarballs.set(pkg.name, file);
  }
  return tarballs;
}

/**
 * The peer dependencies of the packages, each at the exact version the declaring package pins for
 * its own tests (its devDependencies): the combination the repository tests with. An optional peer
 * is installed only when an example imports it (`@opentelemetry/sdk-metrics` for the OpenTelemetry
 * example); the others (a credentials provider's cloud SDK) stay out, so the packages are shown to
 * load without them.
 */
export function pinnedPeers(
  packages: readonly PublishablePackage[],
  exampleSources: readonly string[],
): Map<string, string> {
  const own = new Set(packages.map((pkg) => pkg.name));
  const imported = (peer: string) =>
    exampleSources.some((source) => source.includes(`"${peer}"`) || source.includes(`'${peer}'`));
  const pins = new Map<string, string>();
  for (const pkg of packages) {
    for (const peer of Object.keys(pkg.manifest.peerDependencies ?? {})) {
      if (own.has(peer)) continue;
      if (pkg.manifest.peerDependenciesMeta?.[peer]?.optional === true && !imported(peer)) continue;
      const pin = pkg.manifest.devDependencies?.[peer] ?? pkg.manifest.dependencies?.[peer];
      if (pin === undefined || !/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(pin)) {
        throw new Error(
          `${pkg.name} has the peer dependency ${peer} but does not pin an exact version of it in devDependencies`,
        );
      }
      const earlier = pins.get(peer);
      if (earlier !== undefined && earlier !== pin) {
        throw new Error(`${peer} is pinned at both ${earlier} and ${pin}; pin one version`);
      }
      pins.set(peer, pin);
    }
  }
  return pins;
}

/** `@types/node` and `@types/pg` at the root's pins: what a TypeScript user of the examples adds. */
export function pinnedTypes(root: string): Map<string, string> {
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Manifest;
  const pins = new Map<string, string>();
  for (const name of ["@types/node", "@types/pg"]) {
    const pin = manifest.devDependencies?.[name];
    if (pin === undefined) throw new Error(`the root package.json does not pin ${name}`);
    pins.set(name, pin);
  }
  return pins;
}
