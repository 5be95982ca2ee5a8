import { existsSync } from "node:fs";
import { arch, platform } from "node:os";
import { dirname } from "node:path";
import pg from "pg";
import { describe, expect, inject, test, vi } from "vitest";
import {
  createTestDatabase,
  databaseUrl,
  TEST_DATABASE_PREFIX,
  useTestDatabase,
  withClient,
} from "../src/database.js";
import type { EmbeddedPostgres } from "../src/embedded-server.js";
import { freePort } from "../src/embedded-server.js";
import { DEFAULT_MAJOR, type ProvideTarget, setupDatabase } from "../src/global-setup.js";

/** A stand-in for Vitest's TestProject that records what the setup provides. */
function fakeProject() {
  const provided: Record<string, unknown> = {};
  const project = {
    provide: (key: string, value: unknown) => {
      provided[key] = value;
    },
  } as unknown as ProvideTarget;
  return { project, provided };
}

async function exists(serverUrl: string, database: string): Promise<boolean> {
  return await withClient(serverUrl, async (client) => {
    const result = await client.query("select 1 from pg_database where datname = $1", [database]);
    return result.rowCount === 1;
  });
}

describe("the shared server", () => {
  test("is a real PostgreSQL, from the source this run was configured with", async () => {
    const url = inject("pgUrl");
    const source = inject("pgSource");
    expect(source).toBe(process.env["DATABASE_URL"] ? "DATABASE_URL" : "embedded");

    const row = await withClient(url, async (client) => {
      const result = await client.query(
        "select version() as version, current_setting('port') as port, current_setting('fsync') as fsync",
      );
      return result.rows[0] as { version: string; port: string; fsync: string };
    });
    expect(row.version).toMatch(/^PostgreSQL \d+/);
    if (source === "DATABASE_URL") {
      expect(url).toBe(process.env["DATABASE_URL"]);
    } else {
      // Our own throw-away server: the embedded binaries (18.x unless LIFEGUARD_PG_MAJOR picks
      // another major), a random port, fast settings.
      const major = inject("pgMajor");
      // LIFEGUARD_PG_BIN alone may hold any major; otherwise it is the one asked for
      if (!process.env["LIFEGUARD_PG_BIN"] || process.env["LIFEGUARD_PG_MAJOR"])
        expect(major).toBe(Number(process.env["LIFEGUARD_PG_MAJOR"] || DEFAULT_MAJOR));
      expect(row.version).toMatch(new RegExp(`^PostgreSQL ${major}\\.`));
      expect(new URL(url).hostname).toBe("127.0.0.1");
      expect(Number(row.port)).toBe(Number(new URL(url).port));
      expect(row.port).not.toBe("5432");
      expect(row.fsync).toBe("off");
    }
  });
});

describe("global setup", () => {
  test("with DATABASE_URL it checks and provides that URL and starts no server", async () => {
    const { project, provided } = fakeProject();
    const startServer = vi.fn(async (): Promise<EmbeddedPostgres> => {
      throw new Error("must not start a server");
    });
    const url = inject("pgUrl");
    const teardown = await setupDatabase(project, { env: { DATABASE_URL: url }, startServer });
    expect(provided).toEqual({
      pgUrl: url,
      pgSource: "DATABASE_URL",
      pgMajor: inject("pgMajor"),
    });
    expect(startServer).not.toHaveBeenCalled();
    expect(teardown).toBeUndefined();
  });

  test("an unreachable DATABASE_URL fails the run with a clear message", async () => {
    const { project, provided } = fakeProject();
    const url = `postgres://postgres:hunter2@127.0.0.1:${await freePort()}/postgres`;
    const error = await setupDatabase(project, { env: { DATABASE_URL: url } }).catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(/^DATABASE_URL is set .*ECONNREFUSED/);
    expect(error.message).not.toContain("hunter2");
    expect(provided).toEqual({});
  });

  test("without DATABASE_URL it starts an embedded server and its teardown destroys it", async () => {
    const { project, provided } = fakeProject();
    const teardown = await setupDatabase(project, { env: {} });
    expect(provided["pgSource"]).toBe("embedded");
    const url = provided["pgUrl"] as string;
    expect(url).not.toBe(inject("pgUrl"));
    const dataDir = await withClient(url, async (client) => {
      const result = await client.query("select current_setting('data_directory') as dir");
      return (result.rows[0] as { dir: string }).dir;
    });
    expect(existsSync(dataDir)).toBe(true);

    await teardown?.();
    expect(existsSync(dirname(dataDir))).toBe(false);
    await expect(withClient(url, async () => undefined)).rejects.toMatchObject({
      code: "ECONNREFUSED",
    });
  });

  test("LIFEGUARD_PG_MAJOR must match the server's major, or the run fails saying so", async () => {
    const { project } = fakeProject();
    const other = inject("pgMajor") === 14 ? 18 : 14;
    const env = { DATABASE_URL: inject("pgUrl"), LIFEGUARD_PG_MAJOR: String(other) };
    await expect(setupDatabase(project, { env })).rejects.toThrow(
      `the test server runs PostgreSQL ${inject("pgMajor")}, but LIFEGUARD_PG_MAJOR=${other} asks for ${other}`,
    );
    await expect(
      setupDatabase(project, { env: { LIFEGUARD_PG_MAJOR: "fourteen" } }),
    ).rejects.toThrow(
      'LIFEGUARD_PG_MAJOR must be a PostgreSQL major version such as 14 or 18, got "fourteen"',
    );
  });

  test("LIFEGUARD_PG_MAJOR=14 starts PostgreSQL 14 from its binaries package", async () => {
    const { project, provided } = fakeProject();
    const env = { LIFEGUARD_PG_MAJOR: "14" };
    if (`${platform()}-${arch()}` !== "linux-x64") {
      // the only platform whose PostgreSQL 14 package test-fixtures installs
      await expect(setupDatabase(project, { env })).rejects.toThrow(/binaries are not installed/);
      return;
    }
    const teardown = await setupDatabase(project, { env });
    try {
      expect(provided["pgMajor"]).toBe(14);
      const version = await withClient(provided["pgUrl"] as string, async (client) => {
        const result = await client.query("select version() as v");
        return (result.rows[0] as { v: string }).v;
      });
      expect(version).toMatch(/^PostgreSQL 14\./);
    } finally {
      await teardown?.();
    }
  });

  test("a server that cannot start fails the run with a clear message", async () => {
    const { project } = fakeProject();
    const startServer = async (): Promise<EmbeddedPostgres> => {
      throw new Error("initdb failed (code 1)");
    };
    await expect(setupDatabase(project, { env: {}, startServer })).rejects.toThrow(
      /^Could not start the embedded PostgreSQL .*DATABASE_URL.*initdb failed/,
    );
  });
});

describe("per-file databases", () => {
  const fileDatabase = useTestDatabase();

  test("useTestDatabase gives this file its own database, named after the file", async () => {
    expect(fileDatabase.name.startsWith(`${TEST_DATABASE_PREFIX}harness_`)).toBe(true);
    const name = await withClient(fileDatabase.url, async (client) => {
      const result = await client.query("select current_database() as name");
      return (result.rows[0] as { name: string }).name;
    });
    expect(name).toBe(fileDatabase.name);
  });

  test("two databases are distinct and isolated, and drop removes them", async () => {
    const serverUrl = inject("pgUrl");
    const a = await createTestDatabase("isolation");
    const b = await createTestDatabase("isolation");
    try {
      expect(a.name).not.toBe(b.name);
      expect(a.url).not.toBe(b.url);
      await withClient(a.url, (client) => client.query("create table only_in_a (id int)"));
      const tableIn = (url: string) =>
        withClient(url, async (client) => {
          const result = await client.query("select to_regclass('only_in_a') is not null as found");
          return (result.rows[0] as { found: boolean }).found;
        });
      expect(await tableIn(a.url)).toBe(true);
      expect(await tableIn(b.url)).toBe(false);
    } finally {
      await b.drop();
    }
    expect(await exists(serverUrl, b.name)).toBe(false);

    // drop() terminates connections that are still open (DROP DATABASE ... WITH (FORCE)).
    const leftover = new pg.Client({ connectionString: a.url });
    leftover.on("error", () => undefined);
    await leftover.connect();
    try {
      await a.drop();
      await a.drop(); // idempotent
    } finally {
      await leftover.end().catch(() => undefined);
    }
    expect(await exists(serverUrl, a.name)).toBe(false);
    await expect(withClient(a.url, async () => undefined)).rejects.toMatchObject({
      code: "3D000", // invalid_catalog_name: database does not exist
    });
  });

  test("a database URL keeps the server's user, password, host, port and options", () => {
    expect(databaseUrl("postgres://u:p%40ss@db.example:6543/main?sslmode=disable", "other")).toBe(
      "postgres://u:p%40ss@db.example:6543/other?sslmode=disable",
    );
  });
});
