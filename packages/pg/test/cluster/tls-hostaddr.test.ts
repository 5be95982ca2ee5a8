/**
 * `hostaddr` with TLS, on a real server with a certificate for a host name: a multi-host Pool
 * connects to the numeric address and verifies the certificate against the host name (libpq's
 * rule), so `sslmode=verify-full` works with `hostaddr`, and a wrong host name is refused.
 */
import { execFileSync } from "node:child_process";
import { chownSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { usePrivateServer } from "@lifeguard/test-fixtures";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Pool } from "../../src/index.js";

const NAME = "db.lifeguard.test";
const server = usePrivateServer();
const dir = mkdtempSync(join(tmpdir(), "lifeguard-tls-"));
const ca = join(dir, "ca.crt");

/** A CA, and a server certificate it signed for NAME only. */
function makeCertificates(): void {
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  openssl(
    "req",
    ...["-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"],
    ...["-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=Lifeguard test CA"],
  );
  openssl(
    "req",
    ...["-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr"],
    ...["-subj", `/CN=${NAME}`],
  );
  writeFileSync(join(dir, "san.ext"), `subjectAltName=DNS:${NAME}\n`);
  openssl(
    "x509",
    ...["-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"],
    ...["-days", "2", "-out", "server.crt", "-extfile", "san.ext"],
  );
}

beforeAll(async () => {
  makeCertificates();
  // the server reads its key as its own user, which must own it with no access for others
  const { uid, gid } = statSync(server.dataDir);
  for (const file of ["server.key", "server.crt"]) chownSync(join(dir, file), uid, gid);
  execFileSync("chmod", ["0600", join(dir, "server.key")]);
  execFileSync("chmod", ["0755", dir]);
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    await admin.query(`alter system set ssl_cert_file = '${join(dir, "server.crt")}'`);
    await admin.query(`alter system set ssl_key_file = '${join(dir, "server.key")}'`);
    await admin.query("alter system set ssl = on");
    await admin.query("select pg_reload_conf()");
  } finally {
    await admin.end();
  }
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const pools: Pool[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.end();
});

function conninfo(host: string): string {
  const user = new URL(server.url).username;
  // two entries for one server: a multi-host string, routed by the cluster machinery
  return `host=${host},${host} hostaddr=127.0.0.1,127.0.0.1 port=${server.port},${server.port} dbname=postgres user=${user} sslmode=verify-full sslrootcert=${ca}`;
}

describe("hostaddr with TLS", () => {
  it("verifies the certificate against the host name, not the address (sslmode=verify-full)", async () => {
    const pool = new Pool({ connectionString: conninfo(NAME), connectionTimeoutMillis: 10_000 });
    pools.push(pool);
    const { rows } = await pool.query("select ssl from pg_stat_ssl where pid = pg_backend_pid()");
    expect(rows).toEqual([{ ssl: true }]);
  });

  it("refuses a certificate that does not name the host", async () => {
    const pool = new Pool({
      connectionString: conninfo("other.lifeguard.test"),
      connectionTimeoutMillis: 10_000,
    });
    pools.push(pool);
    const error = (await pool.query("select 1").catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(Error);
    // the TLS check's own refusal, somewhere in the cause chain
    const chain: string[] = [];
    for (let e: unknown = error; e instanceof Error; e = (e as { cause?: unknown }).cause) {
      chain.push(`${(e as { code?: string }).code ?? ""} ${e.message}`);
    }
    expect(chain.join("\n")).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID.*other\.lifeguard\.test/);
  });
});
