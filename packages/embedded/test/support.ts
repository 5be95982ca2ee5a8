// The test harness's helpers: `usePrivateServer()` (a server for this file, started in beforeAll and
// destroyed in afterAll) and `withClient()`. The harness runs this package's source (it imports it by
// path, see test-fixtures/src/embedded-server.ts), so these tests exercise the same code.
export { usePrivateServer, withClient } from "@lifeguard/test-fixtures";
