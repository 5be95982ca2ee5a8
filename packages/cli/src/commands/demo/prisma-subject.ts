import diagnosticsChannel from "node:diagnostics_channel";
import { pathToFileURL } from "node:url";
import type { ConnectionAcquireEvent } from "@lifeguard/core";
import { channelNames } from "@lifeguard/core";
import type { DemoSubject } from "./subjects.js";

/** The part of a generated Prisma Client the demo uses: raw SQL, so any schema will do. */
interface RawPrismaClient {
  $queryRawUnsafe<T = unknown>(sql: string, ...values: unknown[]): Promise<T>;
  $executeRawUnsafe(sql: string, ...values: unknown[]): Promise<number>;
  $transaction<T>(fn: (tx: RawPrismaClient) => Promise<T>): Promise<T>;
  $disconnect(): Promise<void>;
}

type PrismaClientClass = new (options: { adapter: unknown }) => RawPrismaClient;

/**
 * Prisma through Lifeguard, on the application's own generated client (`--prisma <module>`): the
 * demo's workload is raw SQL on its own table, so the client's schema does not matter.
 */
export async function prismaSubject(url: string, clientModule: string): Promise<DemoSubject> {
  let PrismaClient: PrismaClientClass;
  let PrismaLifeguard: new (options: object) => { pool: import("@lifeguard/pg").Pool };
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
  const applicationName = "lifeguard-demo-prisma";
  const connection = new URL(url);
  connection.searchParams.set("application_name", applicationName);
  const adapter = new PrismaLifeguard({
    connectionString: connection.toString(),
    max: 5,
    name: "demo-prisma",
  });
  const prisma = new PrismaClient({ adapter });
  const waits: number[] = [];
  const onAcquire = (message: unknown) => {
    const event = message as ConnectionAcquireEvent;
    if (event.pool.name === "demo-prisma") waits.push(event.waitMillis);
  };
  diagnosticsChannel.subscribe(channelNames.connectionAcquire, onAcquire);
  const poolErrors = { count: 0 };
  adapter.pool.on("error", () => poolErrors.count++);
  return {
    name: "Prisma on Lifeguard",
    lifeguard: true,
    applicationName,
    waits,
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
    leak: async (tenant) =>
      void (await prisma.$executeRawUnsafe("select set_config('app.tenant', $1, false)", tenant)),
    probe: async () => {
      const rows = await prisma.$queryRawUnsafe<{ tenant: string }[]>(
        "select coalesce(current_setting('app.tenant', true), '') as tenant",
      );
      return rows[0]?.tenant ?? "";
    },
    slow: async () => void (await prisma.$executeRawUnsafe("select pg_sleep(0.3)")),
    pool: () => ({ total: adapter.pool.totalCount, idle: adapter.pool.idleCount }),
    close: async () => {
      diagnosticsChannel.unsubscribe(channelNames.connectionAcquire, onAcquire);
      await prisma.$disconnect();
      await adapter.pool.end();
    },
  };
}
