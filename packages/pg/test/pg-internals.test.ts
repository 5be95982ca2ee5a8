/**
 * The contract with the installed pg: every undeclared member Lifeguard reads (listed once, in
 * src/pg-internals.ts) exists on a real connected client, its connection and a pg.Pool. If pg
 * renames one, this fails instead of resets silently taking the slow path or blackholed sockets
 * never being torn down.
 */
import { useTestDatabase } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import {
  clientMembers,
  connectionEvents,
  connectionMembers,
  destroySocket,
  isQuiet,
  poolMembers,
  socketDestroyed,
} from "../src/pg-internals.js";

const db = useTestDatabase();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function connectedClient(
  before?: (client: pg.Client) => void,
): Promise<pg.Client & Record<string, unknown>> {
  const client = new pg.Client({ connectionString: db.url });
  client.on("error", () => undefined);
  before?.(client);
  await client.connect();
  cleanups.push(() => client.end());
  return client as pg.Client & Record<string, unknown>;
}

describe("pg internals Lifeguard relies on", () => {
  it.each(clientMembers)("a connected pg.Client has %s", async (name) => {
    const client = await connectedClient();
    expect(name in client).toBe(true);
  });

  it.each(connectionMembers)("its connection has %s", async (name) => {
    const client = await connectedClient();
    const connection = client["connection"] as unknown as Record<string, unknown>;
    expect(connection[name]).toBeDefined();
  });

  it.each(connectionEvents)("its connection emits %s while connecting", async (event) => {
    let heard = 0;
    await connectedClient((client) => {
      (client as unknown as { connection: NodeJS.EventEmitter }).connection.on(event, () => {
        heard++;
      });
    });
    expect(heard).toBeGreaterThan(0);
  });

  it.each(poolMembers)("a pg.Pool has %s", async (name) => {
    const pool = new pg.Pool({ connectionString: db.url });
    cleanups.push(() => pool.end());
    expect(name in pool).toBe(true);
  });

  it("reads them as pg means them: quiet when idle, busy while a statement runs, socket dropped", async () => {
    const client = await connectedClient();
    expect(isQuiet(client)).toBe(true);
    const running = client.query("select pg_sleep(0.05)");
    expect(isQuiet(client)).toBe(false);
    await running;
    expect(isQuiet(client)).toBe(true);
    const ended = new Promise((resolve) => client.once("end", resolve));
    destroySocket(client);
    await ended;
    expect(socketDestroyed(client)).toBe(true);
  });
});
