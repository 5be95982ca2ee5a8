/**
 * Prisma on Lifeguard through a real PgBouncer (test-fixtures/src/pgbouncer.ts): the conformance
 * suite in session mode, and its transaction-mode counterpart with the settings docs/pgbouncer.md
 * recommends for PgBouncer < 1.21. As in conformance.test.ts, the subject passes the pool it makes
 * and ends it in close().
 */
import { runPgBouncerSuites } from "@lifeguard/test-fixtures";
import { lifeguardAcquireTimeout, lifeguardPrismaSubject } from "./subject.js";

runPgBouncerSuites("prisma", import.meta.url, lifeguardAcquireTimeout, lifeguardPrismaSubject);
