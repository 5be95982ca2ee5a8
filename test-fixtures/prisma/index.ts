/**
 * A real generated Prisma Client for tests and benchmarks, from `schema.prisma` beside this file.
 *
 * `loadPrismaClient()` runs `prisma generate` the first time it is needed (once per schema and
 * Prisma version; later runs reuse the output) and imports the result. The output goes to the
 * gitignored `generated/` folder and is never committed, so a fresh clone generates it on its
 * first test run. Nothing else depends on it existing: typecheck, lint and build never see
 * generated code, because tests reach the client only through this loader, typed by the small
 * structural interfaces below (the parts of the generated API the tests use).
 *
 * Why the environment variable: every command of the Prisma CLI, `generate` included, first makes
 * sure a schema-engine binary is present and downloads it from binaries.prisma.sh (outside the npm
 * registry) when it is not. Machines without that access (this project's CI, offline builds) fail
 * there, although `generate` with the rust-free `prisma-client` generator never runs the engine.
 * Pointing `PRISMA_SCHEMA_ENGINE_BINARY` at a stub that exits 1 skips the download; were the engine
 * ever run, the stub would fail loudly instead of doing something unexpected. For the same reason
 * tables are created from `schema.sql`, not by `prisma migrate` or `db push` (which do run it).
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import pg from "pg";

const here = dirname(fileURLToPath(import.meta.url));
const schemaFile = join(here, "schema.prisma");
const sqlFile = join(here, "schema.sql");
const generatedRoot = join(here, "generated");
const require = createRequire(import.meta.url);

/** A row of `users`. */
export interface UserRow {
  id: number;
  email: string;
  name: string | null;
}
/** A row of `posts`. */
export interface PostRow {
  id: number;
  title: string;
  published: boolean;
  authorId: number;
}
/** A row of `accounts`. */
export interface AccountRow {
  id: number;
  owner: string;
  balance: number;
}
/** A row of `bench_items` (the ORM benchmarks' table). */
export interface BenchItemRow {
  id: number;
  label: string;
  n: number;
}
/** A row of `conformance_items` (the conformance suite's table). */
export interface ConformanceItemRow {
  id: number;
  label: string;
}

/** Arguments of a model method, as Prisma takes them (`where`, `data`, `select`, `include` ...). */
export type ModelArgs = Record<string, unknown>;

/** A model delegate (`prisma.user` ...): the methods the tests use. Results are Prisma's lazy promises. */
export interface ModelDelegate<Row> {
  create(args: ModelArgs): Promise<Row>;
  createMany(args: ModelArgs): Promise<{ count: number }>;
  findMany(args?: ModelArgs): Promise<Row[]>;
  findUnique(args: ModelArgs): Promise<Row | null>;
  findUniqueOrThrow(args: ModelArgs): Promise<Row>;
  update(args: ModelArgs): Promise<Row>;
  updateMany(args: ModelArgs): Promise<{ count: number }>;
  delete(args: ModelArgs): Promise<Row>;
  deleteMany(args?: ModelArgs): Promise<{ count: number }>;
  count(args?: ModelArgs): Promise<number>;
}

/** Options of an interactive transaction. */
export interface TransactionOptions {
  maxWait?: number;
  timeout?: number;
  isolationLevel?: "ReadUncommitted" | "ReadCommitted" | "RepeatableRead" | "Serializable";
}

/** What a client and an interactive transaction have in common. */
export interface PrismaTestQueries {
  user: ModelDelegate<UserRow>;
  post: ModelDelegate<PostRow>;
  account: ModelDelegate<AccountRow>;
  conformanceItem: ModelDelegate<ConformanceItemRow>;
  benchItem: ModelDelegate<BenchItemRow>;
  $queryRawUnsafe<T = Record<string, unknown>[]>(sql: string, ...values: unknown[]): Promise<T>;
  $executeRawUnsafe(sql: string, ...values: unknown[]): Promise<number>;
}

/** The client inside an interactive transaction; its `$transaction` nests (a savepoint). */
export interface PrismaTestTransaction extends PrismaTestQueries {
  $transaction<T>(fn: (tx: PrismaTestTransaction) => Promise<T>): Promise<T>;
}

/** The generated `PrismaClient`, as the tests use it. */
export interface PrismaTestClient extends PrismaTestQueries {
  $transaction<T>(
    fn: (tx: PrismaTestTransaction) => Promise<T>,
    options?: TransactionOptions,
  ): Promise<T>;
  /** A batch transaction: the (un-awaited) queries run in one transaction, in order. */
  $transaction<const P extends readonly Promise<unknown>[]>(
    queries: P,
    options?: Pick<TransactionOptions, "isolationLevel">,
  ): Promise<{ -readonly [K in keyof P]: Awaited<P[K]> }>;
  $connect(): Promise<void>;
  $disconnect(): Promise<void>;
}

/** The generated module's constructor. `adapter` is a driver adapter factory (PrismaPg, PrismaLifeguard). */
export type PrismaTestClientClass = new (options: {
  adapter: unknown;
  transactionOptions?: TransactionOptions;
  log?: unknown[];
}) => PrismaTestClient;

export interface GeneratedPrismaClient {
  readonly PrismaClient: PrismaTestClientClass;
  /** The generated client's entry file (for tools that want to import it themselves). */
  readonly file: string;
}

let loading: Promise<GeneratedPrismaClient> | undefined;

/**
 * Generates the client if this schema and Prisma version have not been generated yet, then imports
 * it. Safe to call from many test files at once, in any number of processes: each generates into
 * a private temporary folder and renames it into place; the first rename wins and the others use
 * its result.
 */
export function loadPrismaClient(): Promise<GeneratedPrismaClient> {
  loading ??= (async () => {
    const file = await generatePrismaClient();
    const module = (await import(pathToFileURL(file).href)) as { PrismaClient?: unknown };
    if (typeof module.PrismaClient !== "function") {
      throw new Error(`${file} does not export PrismaClient`);
    }
    return { PrismaClient: module.PrismaClient as PrismaTestClientClass, file };
  })();
  loading.catch(() => {
    loading = undefined; // let a later call try again
  });
  return loading;
}

/** Runs `prisma generate` unless its output for this schema exists; returns the client's entry file. */
export async function generatePrismaClient(): Promise<string> {
  const schema = await readFile(schemaFile, "utf8");
  const prismaPackage = require.resolve("prisma/package.json");
  const versions = await Promise.all(
    [prismaPackage, require.resolve("@prisma/client/package.json")].map(
      async (file) => (JSON.parse(await readFile(file, "utf8")) as { version: string }).version,
    ),
  );
  const key = createHash("sha256")
    .update(schema)
    .update(versions.join("\n"))
    .digest("hex")
    .slice(0, 16);
  const target = join(generatedRoot, key);
  const entry = (root: string) => join(root, "generated", "client", "client.ts");
  const complete = (root: string) => join(root, "complete");
  if (existsSync(complete(target))) return entry(target);

  const work = join(generatedRoot, `.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  await mkdir(work, { recursive: true });
  try {
    // the schema's `output` is relative to the schema file, so a copy here generates in here
    await writeFile(join(work, "schema.prisma"), schema);
    const stub = join(work, "schema-engine-stub");
    await writeFile(stub, "#!/bin/sh\n# see test-fixtures/prisma/index.ts\nexit 1\n");
    await chmod(stub, 0o755);
    const cli = join(dirname(prismaPackage), "build", "index.js");
    await runPrisma(cli, ["generate", "--schema", join(work, "schema.prisma")], work, stub);
    if (!existsSync(entry(work))) {
      throw new Error(`prisma generate finished but ${entry(work)} is missing`);
    }
    await writeFile(complete(work), `${versions.join(" ")}\n`);
    try {
      await rename(work, target);
    } catch (error) {
      // another process got there first: use its output
      if (!existsSync(complete(target))) throw error;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return entry(target);
}

async function runPrisma(cli: string, args: string[], cwd: string, stub: string): Promise<void> {
  try {
    await promisify(execFile)(process.execPath, [cli, ...args], {
      cwd,
      env: {
        ...process.env,
        PRISMA_SCHEMA_ENGINE_BINARY: stub,
        CHECKPOINT_DISABLE: "1", // no update check (another request to prisma.io)
        PRISMA_HIDE_UPDATE_MESSAGE: "1",
      },
      timeout: 120_000,
    });
  } catch (error) {
    const failed = error as Error & { stdout?: string; stderr?: string };
    throw new Error(
      `prisma ${args.join(" ")} failed: ${failed.message}\n${failed.stdout ?? ""}${failed.stderr ?? ""}`,
      { cause: error },
    );
  }
}

/** Creates the schema's tables (schema.sql) in the database at `url`. Idempotent. */
export async function createPrismaTables(url: string): Promise<void> {
  const sql = await readFile(sqlFile, "utf8");
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined);
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
