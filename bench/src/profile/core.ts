/**
 * `pnpm --filter @lifeguard/bench profile:core [-- --contender pg-pool --seconds 4 --concurrency 1,64]`
 * `pnpm --filter @lifeguard/bench profile -- --suite pg --contender lifeguard --cases c64`
 *
 * Runs one contender of one suite (the core suite's Lifeguard by default) under `node --cpu-prof`,
 * writes the profile to bench/results/profiles/ (open it in Chrome DevTools or VS Code), and prints
 * the functions with the most self time, overall and inside packages/core/src and packages/pg/src.
 * A database suite runs its own `setup` (DATABASE_URL, else an embedded server, not profiled: it
 * is another process).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { formatSummary, summarizeProfile } from "./summary.js";

const benchDir = fileURLToPath(new URL("../..", import.meta.url));
const repoDir = path.resolve(benchDir, "..");
const profilesDir = path.join(benchDir, "results", "profiles");
const args = process.argv.slice(2).filter((a) => a !== "--");
const option = (flag: string, fallback: string) =>
  args.includes(flag) ? (args[args.indexOf(flag) + 1] ?? fallback) : fallback;
const name = `${option("--suite", "core")}-${option("--contender", "lifeguard")}-${new Date()
  .toISOString()
  .replace(/[:.]/g, "-")}`;
mkdirSync(profilesDir, { recursive: true });

const child = spawnSync(
  process.execPath,
  [
    "--cpu-prof",
    "--cpu-prof-dir",
    profilesDir,
    "--cpu-prof-name",
    `${name}.cpuprofile`,
    "--cpu-prof-interval",
    "100",
    "--enable-source-maps",
    "--conditions=@lifeguard/source",
    "--import",
    import.meta.resolve("tsx"),
    fileURLToPath(new URL("./target.ts", import.meta.url)),
    ...args,
    "--source-maps",
    path.join(profilesDir, `${name}.sourcemaps.json`),
  ],
  { stdio: "inherit", cwd: benchDir },
);
if (child.status !== 0) {
  console.error(`profiled process failed (status ${child.status}, signal ${child.signal})`);
  process.exit(1);
}
const profile = path.join(profilesDir, `${name}.cpuprofile`);
const text = formatSummary(
  summarizeProfile(profile, repoDir, path.join(profilesDir, `${name}.sourcemaps.json`)),
);
writeFileSync(path.join(profilesDir, `${name}.txt`), text);
console.log(`\nprofile: ${path.relative(repoDir, profile)}\n\n${text}`);
