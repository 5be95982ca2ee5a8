import type { ServerAddress, ServerDescription } from "../../src/index.js";
import type { StubConnection } from "./stub-connector.js";
import { StubConnector } from "./stub-connector.js";

/**
 * The stub connector spreading its connections over two servers (as the pg connector does over a
 * cluster's hosts): odd connection ids on `a`, even ones on `b`. Tests change the servers' state.
 */
export class TwoServerConnector extends StubConnector {
  readonly a: { -readonly [K in keyof ServerDescription]: ServerDescription[K] } = {
    address: "db-a",
    port: 5432,
    role: "primary",
    up: true,
    lagSeconds: undefined,
    connectFailures: 0,
  };
  readonly b: { -readonly [K in keyof ServerDescription]: ServerDescription[K] } = {
    address: "db-b",
    port: 5433,
    role: "standby",
    up: true,
    lagSeconds: 0.25,
    connectFailures: 0,
  };
  /** Makes `servers()` throw, as a faulty connector might. */
  throws = false;

  servers(): readonly ServerDescription[] {
    if (this.throws) throw new Error("servers() failed");
    return [{ ...this.a }, { ...this.b }];
  }

  serverOf(connection: StubConnection): ServerAddress | undefined {
    const server = connection.id % 2 === 1 ? this.a : this.b;
    return { address: server.address, port: server.port };
  }
}
