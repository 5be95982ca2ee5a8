/**
 * Drizzle on Lifeguard through a real PgBouncer (test-fixtures/src/pgbouncer.ts): the conformance
 * suite in session mode, and its transaction-mode counterpart with the settings docs/pgbouncer.md
 * recommends for PgBouncer < 1.21.
 */
import { runPgBouncerSuites } from "@lifeguard/test-fixtures";
import { lifeguardAcquireTimeout, lifeguardDrizzleSubject } from "./subject.js";

runPgBouncerSuites("drizzle", import.meta.url, lifeguardAcquireTimeout, lifeguardDrizzleSubject);
