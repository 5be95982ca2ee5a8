/**
 * TLS: the `ssl` option (and `sslmode` in a connection string) passes through to pg unchanged.
 * A private embedded server gets a self-signed certificate (test/fixtures/tls); Lifeguard and
 * plain pg.Pool are given the same options and must behave the same: a verified TLS session with
 * the certificate as CA, a refusal of the self-signed certificate with `ssl: true`, and TLS
 * without verification when asked.
 */

import { readFileSync } from "node:fs";
import { chmod, chown, copyFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import { DatabaseUnavailableError } from "@lifeguard/core";
import { usePrivateServer, withClient } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Pool, type PoolConfig } from "../../src/index.js";
import { report } from "./support.js";

const server = usePrivateServer();
const fixtures = fileURLToPath(new URL("../fixtures/tls/", import.meta.url));
const ca = readFileSync(join(fixtures, "server.crt"), "utf8");
const pools: { end(): Promise<void> }[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.end();
});

beforeAll(async () => {
  // the server reads server.crt / server.key from its data directory; the key must belong to the
  // server's OS user and be private
  const owner = await stat(server.dataDir);
  for (const file of ["server.crt", "server.key"]) {
    const target = join(server.dataDir, file);
    await copyFile(join(fixtures, file), target);
    await chown(target, owner.uid, owner.gid);
    await chmod(target, 0o600);
  }
  await withClient(server.url, async (c) => {
    await c.query("alter system set ssl = on");
    await c.query("select pg_reload_conf()");
  });
  await vi.waitFor(async () => {
    const { rows } = await withClient(server.url, (c) => c.query("show ssl"));
    expect(rows[0].ssl).toBe("on");
  });
});

const TLS_STATE = "select ssl, version from pg_stat_ssl where pid = pg_backend_pid()";

type Impl = "lifeguard" | "pg";
function pool(impl: Impl, config: PoolConfig): pg.Pool {
  const p = impl === "lifeguard" ? new Pool(config) : new pg.Pool(config as pg.PoolConfig);
  p.on("error", () => undefined);
  pools.push(p);
  return p;
}

describe.each(["lifeguard", "pg"] as const)("TLS through %s", (impl) => {
  it("ssl: { ca } reaches pg as the same object, and the session is verified TLS", async () => {
    const ssl = { ca, rejectUnauthorized: true };
    const p = pool(impl, { connectionString: server.url, ssl });
    const client = await p.connect();
    try {
      expect((client as unknown as { ssl: unknown }).ssl).toBe(ssl);
      const { rows } = await client.query(TLS_STATE);
      expect(rows[0]).toMatchObject({ ssl: true });
      report(`tls-${impl}`, { version: rows[0].version });
    } finally {
      client.release();
    }
  });

  it("ssl: true refuses the self-signed certificate (Node's own check), as pg does", async () => {
    const p = pool(impl, { connectionString: server.url, ssl: true });
    const error = await p.query("select 1").then(
      () => undefined,
      (e: unknown) => e,
    );
    const tlsError = impl === "lifeguard" ? (error as DatabaseUnavailableError).cause : error;
    if (impl === "lifeguard") expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(tlsError).toMatchObject({ code: "DEPTH_ZERO_SELF_SIGNED_CERT" });
  });

  it("ssl: { rejectUnauthorized: false } and sslmode=no-verify give TLS without verification", async () => {
    const a = pool(impl, { connectionString: server.url, ssl: { rejectUnauthorized: false } });
    expect((await a.query(TLS_STATE)).rows[0]).toMatchObject({ ssl: true });
    const b = pool(impl, { connectionString: `${server.url}?sslmode=no-verify` });
    expect((await b.query(TLS_STATE)).rows[0]).toMatchObject({ ssl: true });
    // and without any ssl option the same server is used in clear text
    const c = pool(impl, { connectionString: server.url });
    expect((await c.query(TLS_STATE)).rows[0]).toMatchObject({ ssl: false });
  });
});

describe("secrets inside the ssl options", () => {
  const ssl = { ca, key: "FAKE-PRIVATE-KEY-4711", passphrase: "Fake-Pass-Phrase-4711" };

  it("Lifeguard: util.inspect(pool) and JSON.stringify(pool) show neither key nor passphrase", () => {
    const p = pool("lifeguard", { connectionString: server.url, ssl });
    for (const text of [inspect(p, { depth: 8 }), JSON.stringify(p)]) {
      expect(text).not.toContain(ssl.key);
      expect(text).not.toContain(ssl.passphrase);
    }
  });

  it("plain pg.Pool: util.inspect(pool) hides the key (pg-pool makes it non-enumerable) but prints the passphrase", () => {
    const p = pool("pg", { connectionString: server.url, ssl });
    const text = inspect(p, { depth: 8 });
    expect(text).not.toContain(ssl.key);
    expect(text).toContain(ssl.passphrase);
  });
});
