// `pnpm smoke:packed`: test what ships. Packs every publishable package (after `pnpm build`),
// installs the tarballs with npm into a new application outside the workspace, and there runs
// each package's README example (its `ts smoke` block) as an ES module and as CommonJS, the
// installed `lifeguard` command, and a check that the ESM and CommonJS copies of the packages
// recognise each other's errors and pools. Everything runs against one embedded PostgreSQL
// started here. See docs/development.md.
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import pg from "pg";
import { startEmbeddedPostgres } from "../packages/embedded/src/index.js";
import { fixtures, generatePrismaClient, installApp, prepareForms } from "./smoke-packed/app.js";
import { runCliChecks } from "./smoke-packed/cli-checks.js";
import {
  assertBuilt,
  packPackages,
  pinnedPeers,
  pinnedTypes,
  publishablePackages,
} from "./smoke-packed/packages.js";
import { collectExamples, runExamples, writeExamples } from "./smoke-packed/readme-examples.js";
import { describeFailure, runProcess } from "./smoke-packed/run-process.js";
import { typecheckExamples } from "./smoke-packed/typecheck.js";

const root = join(import.meta.dirname, "..");
const keep = process.argv.includes("--keep"); // leave the application folder for a look
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const step = (text: string) => console.log(`\n::: ${text} (at ${elapsed()})`);

const packages = publishablePackages(root);
assertBuilt(packages);
const examples = collectExamples(root, packages); // fail on a missing marker before any work

// A new folder outside the workspace, so nothing resolves from the repository's node_modules.
// 0755: as root, the embedded PostgreSQL binaries installed in it run as the `postgres` user.
const work = await mkdtemp(join(tmpdir(), "lifeguard-smoke-"));
await chmod(work, 0o755);
const app = join(work, "app");
const failures: string[] = [];
const notes: string[] = [];
let serverStarting: ReturnType<typeof startEmbeddedPostgres> | undefined;
try {
  assertIsolated(work);
  step(`pnpm pack: ${packages.map((pkg) => pkg.name).join(", ")}`);
  const tarballs = await packPackages(root, packages, join(work, "tarballs"));
  const peers = pinnedPeers(
    packages,
    examples.map((example) => example.source),
  );

  step(`npm install of the tarballs and ${[...peers].map(([n, v]) => `${n}@${v}`).join(", ")}`);
  await mkdir(app, { mode: 0o755 });
  serverStarting = startEmbeddedPostgres(); // in parallel with the install
  serverStarting.catch(() => undefined); // awaited below
  await installApp(app, tarballs, peers, pinnedTypes(root));
  await prepareForms(app);
  await writeExamples(app, examples);

  step("prisma generate (the client the @lifeguard/prisma example imports)");
  await generatePrismaClient(root, app);

  // tsc works while the examples wait on the database
  const typeErrors = typecheckExamples(root, app);
  typeErrors.catch(() => undefined); // awaited below

  const server = await serverStarting;
  const url = server.url;
  await createTables(url);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env["PATH"],
    HOME: process.env["HOME"],
    TMPDIR: process.env["TMPDIR"],
    DATABASE_URL: url,
    PGHOST: server.host,
    PGPORT: String(server.port),
    PGUSER: server.user,
    PGDATABASE: "postgres",
  };

  step(`README examples, as ES modules and as CommonJS (${examples.length} examples)`);
  failures.push(...(await runExamples(app, examples, env)));

  step("the lifeguard command");
  const cliVersion = packages.find((pkg) => pkg.dir === "cli")?.version ?? "";
  const cli = await runCliChecks(app, cliVersion, env);
  failures.push(...cli.failures);
  notes.push(...cli.notes);

  step("ESM and CommonJS copies in one process");
  const cross = await runProcess(process.execPath, ["cross-copy.mjs"], {
    cwd: join(app, "esm"),
    env,
    timeoutMillis: 60_000,
  });
  process.stdout.write(cross.stdout);
  if (cross.code !== 0) failures.push(describeFailure(cross, "esm/cross-copy.mjs"));

  step("tsc: the examples against the shipped declarations (.d.ts for ESM, .d.cts for CommonJS)");
  const typeFailure = await typeErrors;
  if (typeFailure === undefined) console.log("ok - the examples type-check as .mts and as .cts");
  else {
    console.log("not ok - the examples do not type-check");
    failures.push(typeFailure);
  }
} finally {
  await serverStarting?.then((server) => server.destroy()).catch(() => undefined);
  if (keep) console.log(`\nkept: ${app}`);
  else await rm(work, { recursive: true, force: true });
}

for (const note of notes) console.log(`note: ${note}`);
if (failures.length > 0) {
  console.error(`\n${failures.length} smoke check(s) failed (${elapsed()}):\n`);
  console.error(failures.join("\n\n"));
  process.exitCode = 1;
} else {
  console.log(`\nsmoke test of the packed packages passed in ${elapsed()}`);
}

/**
 * Node resolves a package missing from the application in every parent folder's node_modules: none
 * may exist, or the app could silently use the workspace's (or another) copy. Set TMPDIR elsewhere.
 */
function assertIsolated(dir: string): void {
  for (let parent = dirname(dir); ; parent = dirname(parent)) {
    if (existsSync(join(parent, "node_modules"))) {
      throw new Error(
        `${join(parent, "node_modules")} is visible from the smoke test's application in ${dir}: point TMPDIR at a folder without node_modules above it`,
      );
    }
    if (dirname(parent) === parent) return;
  }
}

async function createTables(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined);
  await client.connect();
  try {
    await client.query(await readFile(join(fixtures, "setup.sql"), "utf8"));
  } finally {
    await client.end();
  }
}
