/**
 * Rotating credentials under load: a secret store hands out a new password every few seconds
 * (alternating between two roles, as AWS Secrets Manager's "alternating users" rotation does), the
 * old one stops working once it expired, and 64 workers query through the pool all along.
 *
 *   pnpm --filter @lifeguard/example-lifecycles credentials
 *
 * Starts a throw-away embedded PostgreSQL asking for SCRAM passwords (it changes roles' passwords,
 * so it never uses DATABASE_URL).
 */
import { randomBytes } from "node:crypto";
import { startEmbeddedPostgres } from "@lifeguard/embedded";
import type { Credentials } from "@lifeguard/pg";
import { Pool } from "@lifeguard/pg";
import pg from "pg";

const LIFETIME_MILLIS = 3000;
const ROTATIONS = 5;

const server = await startEmbeddedPostgres({
  password: "example-admin",
  serverConfig: { password_encryption: "scram-sha-256" },
});
const admin = new pg.Client({ connectionString: server.url });
await admin.connect();
const newPassword = () => randomBytes(16).toString("base64url");
for (const role of ["app_blue", "app_green"]) {
  await admin.query(`create role ${role} login password '${newPassword()}'`);
}

// the secret store: each call rotates to the other role with a new password, valid 3 s; the
// previous password is changed again once it expired, so it really stops working
let current: { user: string; password: string; expiresAt: number } | undefined;
let rotations = 0;
const revocations = new Set<NodeJS.Timeout>();
async function secretStore(): Promise<Credentials> {
  const previous = current;
  const user = previous?.user === "app_blue" ? "app_green" : "app_blue";
  const password = newPassword();
  await admin.query(`alter role ${user} password '${password}'`);
  current = { user, password, expiresAt: Date.now() + LIFETIME_MILLIS };
  if (previous !== undefined) {
    rotations++;
    console.log(
      `rotation ${rotations}: now ${user}; ${previous.user}'s password stops working at its expiry`,
    );
    const timer = setTimeout(
      () => {
        revocations.delete(timer);
        void admin.query(`alter role ${previous.user} password '${newPassword()}'`);
      },
      previous.expiresAt - Date.now() + 10,
    );
    revocations.add(timer);
  }
  return current;
}

const pool = new Pool({
  host: server.host,
  port: server.port,
  database: "postgres",
  max: 10,
  credentials: secretStore,
});

let ok = 0;
let failed = 0;
const users = new Map<string, number>();
let stop = false;
async function worker(): Promise<void> {
  while (!stop) {
    try {
      const { rows } = await pool.query<{ u: string }>("select current_user as u");
      const user = rows[0]?.u ?? "?";
      users.set(user, (users.get(user) ?? 0) + 1);
      ok++;
    } catch (error) {
      failed++;
      console.log(`query failed: ${(error as Error).message}`);
    }
  }
}
const workers = Array.from({ length: 64 }, worker);
while (rotations < ROTATIONS) await new Promise((resolve) => setTimeout(resolve, 100));
stop = true;
await Promise.all(workers);

const { counters, connector } = pool.stats();
console.log(
  `${ok} queries at concurrency 64, ${failed} failed; by role: ${[...users].map(([u, n]) => `${u} ${n}`).join(", ")}`,
);
console.log(
  `credentials fetched ${connector?.["credentialFetches"]} times (${connector?.["credentialRotations"]} rotations); ` +
    `connections retired: ${counters.destroys.evicted} spread after a rotation, ${counters.destroys.lifetime} at their credentials' expiry`,
);
await pool.end();
for (const timer of revocations) clearTimeout(timer);
await admin.end();
await server.destroy();
process.exit(failed === 0 ? 0 : 1);
