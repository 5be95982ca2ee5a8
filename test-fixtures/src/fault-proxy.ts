// The fault proxy is @lifeguard/embedded's (the demo ships it); the harness re-exports it. Imported
// by path for the same reason as embedded-server.ts: `pnpm test` works before anything is built.
export * from "../../packages/embedded/src/fault-proxy.js";
