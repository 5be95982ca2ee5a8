// The embedded server is @lifeguard/embedded, which the CLI ships; the harness runs the same code.
// Imported by path, not by package name: the root globalSetup loads this file outside the vitest
// projects, where the `@lifeguard/source` condition does not apply, and `pnpm test` must work on a
// fresh clone before anything is built.
export * from "../../packages/embedded/src/index.js";
