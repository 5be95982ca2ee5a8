import { pathToFileURL } from "node:url";
import type { DemoSubject, SubjectFactory, SubjectSite } from "./subjects.js";
import { LIFEGUARD_SETTINGS, POOL_MAX, urlFor } from "./subjects.js";

/** The part of a generated Prisma Client the demo uses: raw SQL, so any schema will do. */
interface RawPrismaClient {
  $queryRawUnsafe<T = unknown>(sql: string, ...values: unknown[]): Promise<T>;
  $executeRawUnsafe(sql: string, ...values: unknown[]): Promise<number>;
  $transaction<T>(fn: (tx: RawPrismaClient) => Promise<T>): Promise<T>;
  $disconnect(): Promise<void>;
}

type PrismaClientClass = new (options: {
  adapter: unknown;
  transactionOptions?: { maxWait?: number };
}) => RawPrismaClient;
type PrismaLifeguardClass = new (options: object) => { pool: import("@lifeguard/pg").Pool };

/**
 * Prisma through Lifeguard, on the application's own generated client (`--prisma <module>`): the
 * demo's workload is raw SQL on its own table, so the client's schema does not matter. Loads the
 * modules once (failing before anything is opened), then makes one subject per phase.
 */
export async function loadPrismaSubject(clientModule: string): Promise<SubjectFactory> {
  let PrismaClient: PrismaClientClass;
  let PrismaLifeguard: PrismaLifeguardClass;
  try {
    const href =
      clientModule.startsWith(".") || clientModule.startsWith("/")
        ? pathToFileURL(clientModule).href
        : clientModule;
    const generated = (await import(href)) as { PrismaClient?: PrismaClientClass };
    if (typeof generated.PrismaClient !== "function")
      throw new Error(`${clientModule} does not export PrismaClient`);
    PrismaClient = generated.PrismaClient;
    ({ PrismaLifeguard } = (await import("@lifeguard/prisma")) as unknown as {
      PrismaLifeguard: typeof PrismaLifeguard;
    });
  } catch (error) {
    throw new Error(
      `--prisma ${clientModule}: cannot load a generated Prisma Client with @lifeguard/prisma (install @lifeguard/prisma, @prisma/adapter-pg and @prisma/client): ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  return (site) => prismaSubject(site, PrismaClient, PrismaLifeguard);
}

function prismaSubject(
  { url, phase }: SubjectSite,
  PrismaClient: PrismaClientClass,
  PrismaLifeguard: PrismaLifeguardClass,
): DemoSubject {
  const applicationName = `lifeguard-demo-${phase}-prisma`;
  const poolName = `demo-prisma-${phase}`;
  const adapter = new PrismaLifeguard({
    connectionString: urlFor(url, applicationName),
    max: POOL_MAX,
    name: poolName,
    ...LIFEGUARD_SETTINGS,
  });
  // Prisma waits for a transaction's connection itself, 2 s by default (maxWait): no longer than
  // Lifeguard's pre-ping timeout, so a transaction could not outlast one dead connection. It gets
  // the same deadline as every other Lifeguard pool here.
  const prisma = new PrismaClient({
    adapter,
    transactionOptions: { maxWait: LIFEGUARD_SETTINGS.acquireTimeoutMillis },
  });
  const poolErrors = { count: 0 };
  adapter.pool.on("error", () => poolErrors.count++);
  const leaked: { release(destroy?: boolean): void }[] = [];
  return {
    name: "Prisma on Lifeguard",
    lifeguard: true,
    applicationName,
    poolName,
    poolErrors,
    read: async (id) =>
      void (await prisma.$queryRawUnsafe("select balance from demo_accounts where id = $1", id)),
    transfer: (from, to) =>
      prisma.$transaction(async (tx) => {
        await tx.$executeRawUnsafe(
          "update demo_accounts set balance = balance - 1 where id = $1",
          from,
        );
        await tx.$executeRawUnsafe(
          "update demo_accounts set balance = balance + 1 where id = $1",
          to,
        );
      }),
    dirty: async (tenant) =>
      void (await prisma.$executeRawUnsafe("select set_config('app.tenant', $1, false)", tenant)),
    probe: async () => {
      const rows = await prisma.$queryRawUnsafe<{ tenant: string }[]>(
        "select coalesce(current_setting('app.tenant', true), '') as tenant",
      );
      return rows[0]?.tenant ?? "";
    },
    slow: async () => void (await prisma.$executeRawUnsafe("select pg_sleep(0.3)")),
    leakLease: async () => {
      // Prisma has no way to hold a connection: the leak is on the pool under its adapter
      const client = await adapter.pool.connect();
      leaked.push(client);
      await client.query("select 1");
    },
    close: async () => {
      for (const client of leaked.splice(0)) client.release(true);
      await prisma.$disconnect();
      await adapter.pool.end();
    },
  };
}
