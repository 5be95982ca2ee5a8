import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import type { EmbeddedPostgres, EmbeddedPostgresOptions } from "../src/index.js";
import { startEmbeddedPostgres } from "../src/index.js";

/** A private server for this file: started in beforeAll, destroyed in afterAll. */
export function usePrivateServer(options: EmbeddedPostgresOptions = {}): EmbeddedPostgres {
  let server: EmbeddedPostgres | undefined;
  beforeAll(async () => {
    server = await startEmbeddedPostgres(options);
  });
  afterAll(async () => {
    await server?.destroy();
  });
  return new Proxy({} as EmbeddedPostgres, {
    get(_target, prop) {
      if (server === undefined) throw new Error("the private server exists only inside tests");
      const value = Reflect.get(server, prop, server) as unknown;
      return typeof value === "function" ? value.bind(server) : value;
    },
  });
}

/** Connect, run `fn`, always disconnect. */
export async function withClient<T>(
  url: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
