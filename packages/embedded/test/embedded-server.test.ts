import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { dirname } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { describe, expect, inject, test, vi } from "vitest";
import { usePrivateServer, withClient } from "./support.js";

// One private server for the whole file (initdb is the slow part), in password mode, with an extra
// setting. The tests run in order and each leaves the server running for the next, until destroy.
const password = `pw-${randomBytes(6).toString("hex")}`;
const server = usePrivateServer({ password, serverConfig: { max_connections: 23 } });

function urlWithPassword(value: string | undefined): string {
  const url = new URL(server.url);
  url.password = value === undefined ? "" : encodeURIComponent(value);
  return url.toString();
}

async function scalar(url: string, sql: string): Promise<unknown> {
  return await withClient(url, async (client) => {
    const result = await client.query(sql);
    return Object.values(result.rows[0] as Record<string, unknown>)[0];
  });
}

async function listen(port: number): Promise<Server> {
  const blocker = createServer();
  await new Promise<void>((resolve, reject) => {
    blocker.once("error", reject);
    blocker.listen(port, "127.0.0.1", resolve);
  });
  return blocker;
}

describe("a private embedded server", () => {
  test("runs a real PostgreSQL of its own with the requested settings", async () => {
    expect(server.running).toBe(true);
    expect(server.pid).toEqual(expect.any(Number));
    expect(server.host).toBe("127.0.0.1");
    expect(server.user).toBe("postgres");
    expect(server.url).toBe(`postgres://postgres:${password}@127.0.0.1:${server.port}/postgres`);
    expect(server.urlFor("other")).toBe(
      `postgres://postgres:${password}@127.0.0.1:${server.port}/other`,
    );
    // Its own port: neither the system PostgreSQL's nor the shared test server's.
    expect(server.port).not.toBe(5432);
    expect(server.port).not.toBe(Number(new URL(inject("pgUrl")).port));
    expect(await scalar(server.url, "select version()")).toMatch(/^PostgreSQL 18\./);
    expect(await scalar(server.url, "select current_setting('data_directory')")).toBe(
      server.dataDir,
    );
    expect(await scalar(server.url, "show max_connections")).toBe("23");
    expect(await scalar(server.url, "show fsync")).toBe("off");
    expect(await scalar(server.url, "show synchronous_commit")).toBe("off");
    expect(await scalar(server.url, "show full_page_writes")).toBe("off");
    expect(server.logs().join("\n")).toContain("database system is ready to accept connections");
  });

  test("password mode: the server asks for the password over TCP", async () => {
    await expect(scalar(urlWithPassword("wrong"), "select 1")).rejects.toMatchObject({
      code: "28P01", // invalid_password, from the server
      message: expect.stringContaining('password authentication failed for user "postgres"'),
    });
    // Without a password pg gives up as soon as the server asks for SCRAM (it would connect if the
    // server trusted the connection).
    await expect(scalar(urlWithPassword(undefined), "select 1")).rejects.toThrow(/SASL/);
    expect(await scalar(urlWithPassword(password), "select current_user")).toBe("postgres");
  });

  test("stop() shuts it down: connections are refused; stopping again is a no-op", async () => {
    await withClient(server.url, async (client) => {
      await client.query("create table kept (value text)");
      await client.query("insert into kept values ('survives a restart')");
    });
    await server.stop();
    expect(server.running).toBe(false);
    expect(server.pid).toBeUndefined();
    await expect(scalar(server.url, "select 1")).rejects.toMatchObject({ code: "ECONNREFUSED" });
    await server.stop();
  });

  test("start() brings it back on the same port with the same data", async () => {
    const port = server.port;
    await server.start();
    expect(server.running).toBe(true);
    expect(server.port).toBe(port);
    expect(await scalar(server.url, "select value from kept")).toBe("survives a restart");
    await server.start(); // already running: no-op
    expect(server.port).toBe(port);
  });

  test("restart() replaces the server process and keeps the data", async () => {
    const before = server.pid;
    await server.restart();
    expect(server.pid).toEqual(expect.any(Number));
    expect(server.pid).not.toBe(before);
    expect(await scalar(server.url, "select count(*)::int from kept")).toBe(1);
  });

  test("start() fails with the server's reason when its port is taken, and works once it is free", async () => {
    await server.stop();
    const blocker = await listen(server.port);
    try {
      await expect(server.start()).rejects.toThrow(
        /exited during start-up[\s\S]*(could not bind|Address already in use)/,
      );
      expect(server.running).toBe(false);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
    await server.start();
    expect(await scalar(server.url, "select value from kept")).toBe("survives a restart");
  });

  test("stop() returns even when the server process was killed", async () => {
    const pid = server.pid;
    expect(pid).toEqual(expect.any(Number));
    process.kill(pid as number, "SIGKILL");
    await server.stop();
    expect(server.running).toBe(false);
  });

  test("destroy() removes the data directory; it is idempotent and the server cannot start again", async () => {
    const dataDir = server.dataDir;
    expect(existsSync(dataDir)).toBe(true);
    await server.destroy();
    expect(existsSync(dataDir)).toBe(false);
    expect(existsSync(dirname(dataDir))).toBe(false);
    await server.destroy();
    await expect(server.start()).rejects.toThrow(/after destroy/);
  });
});

describe("a server whose owner process dies", () => {
  test("is shut down and its temp directory removed, even when the owner is SIGKILLed", async () => {
    // A separate Node process starts a server, reports it, and is then killed: no cleanup code runs.
    const serverModule = fileURLToPath(new URL("../src/embedded-server.ts", import.meta.url));
    const script = `
      const { startEmbeddedPostgres } = await import(${JSON.stringify(serverModule)});
      const server = await startEmbeddedPostgres();
      console.log(JSON.stringify({ url: server.url, dataDir: server.dataDir, pid: server.pid }));
      setInterval(() => {}, 60_000);
    `;
    const owner = spawn(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      {
        cwd: fileURLToPath(new URL("..", import.meta.url)),
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const ownerExited = new Promise((resolve) => owner.once("exit", resolve));
    const firstLine = async (): Promise<string | undefined> => {
      for await (const line of createInterface({ input: owner.stdout })) return line;
      return undefined;
    };
    let report: string | undefined;
    try {
      report = await Promise.race([firstLine(), ownerExited.then(() => undefined)]);
    } finally {
      owner.kill("SIGKILL");
      await ownerExited;
    }
    expect(report).toBeDefined();
    const server = JSON.parse(report as string) as { url: string; dataDir: string; pid: number };
    try {
      // The watchdog notices that the owner is gone: wait for that outcome, not for a fixed time.
      await vi.waitFor(() => expect(existsSync(dirname(server.dataDir))).toBe(false), {
        timeout: 20_000,
        interval: 50,
      });
      await expect(scalar(server.url, "select 1")).rejects.toMatchObject({ code: "ECONNREFUSED" });
    } finally {
      // If the watchdog failed, don't leave the server running on this machine.
      if (existsSync(server.dataDir)) process.kill(server.pid, "SIGINT");
    }
  });
});
