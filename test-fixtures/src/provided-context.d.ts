// Types of the values the root globalSetup (global-setup.ts) provides to every test file via inject().
// Every package's tsconfig includes ../../test-fixtures/src/**/*.d.ts, so inject("pgUrl") is typed.
import "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    /** Connection URL of the shared PostgreSQL for this run (DATABASE_URL, or the embedded server). */
    pgUrl: string;
    /** Where pgUrl came from. */
    pgSource: "embedded" | "DATABASE_URL";
    /** The server's PostgreSQL major version (18 by default; LIFEGUARD_PG_MAJOR picks another). */
    pgMajor: number;
  }
}
