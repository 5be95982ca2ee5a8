import type pg from "pg";
import { onParameterStatus } from "./pg-internals.js";

/** Pool-wide rules the tracking client applies to every statement. @internal */
export interface SessionPolicy {
  /** `false`: send named queries unnamed (for PgBouncer < 1.21 in transaction mode). */
  readonly namedStatements: boolean;
  /** Called when a statement leaves session state of this kind (PgBouncer transaction mode warns). */
  readonly onSessionState: ((kind: string) => void) | undefined;
}

/** What Lifeguard tracks about one pg.Client's session. @internal */
export interface SessionState {
  readonly policy: SessionPolicy;
  /** The socket ended or a fatal error was seen: never lend it again. */
  broken: boolean;
  /** Lent to a borrower right now (errors while idle are the pool's to report). */
  leased: boolean;
  /** Something run during the current lease may have changed session state. */
  dirty: boolean;
  /**
   * A statement of the current lease mentioned a timeout (`SET statement_timeout`, `lock_timeout`,
   * ...): the clean-up first switches them off, so they cannot cancel it.
   */
  timeoutsTouched: boolean;
  /**
   * How many of Lifeguard's own statements (ping, rollback, reset) are in flight: while any is,
   * a ParameterStatus from the server is ours, not the borrower's.
   */
  internal: number;
  /**
   * A clean-up (reset, set-up replay) still running on a client the pool already lent again: its
   * next statements wait for it, so pg never gets a query while one runs (pg ≥ 8.x deprecates that
   * outside pipeline mode).
   */
  pendingClean: Promise<void> | undefined;
  /** Statements recorded while the session was being set up (onConnect, the 'connect' event). */
  initializing: boolean;
  /** The set-up statements, replayed after every reset so the session baseline survives it. */
  readonly init: { config: unknown; values: unknown }[];
  /**
   * The server reports `search_path` changes (ParameterStatus; PostgreSQL 18 and later send it
   * from the start). Where it does not, a function can change `search_path` unseen, so reset
   * `'auto'` counts every statement that may run user code as dirty.
   */
  reportsSearchPath: boolean;
  /** The session's `standard_conforming_strings`, which decides how the classifier reads '\'. */
  standardConformingStrings: boolean;
}

const kSession = Symbol("lifeguard.session");

type WithSession = pg.Client & { [kSession]?: SessionState };

/** @internal */
export function attachSession(client: pg.Client, policy: SessionPolicy): SessionState {
  const state: SessionState = {
    policy,
    broken: false,
    leased: false,
    dirty: false,
    timeoutsTouched: false,
    internal: 0,
    pendingClean: undefined,
    initializing: false,
    init: [],
    reportsSearchPath: false,
    standardConformingStrings: true,
  };
  Object.defineProperty(client, kSession, { value: state, enumerable: false });
  watchReportedSettings(client, state);
  return state;
}

/**
 * Notes, from the server's ParameterStatus messages (sent at start-up and whenever a reported
 * setting changes), the settings the classifier depends on. Registered before the client connects,
 * so the start-up reports are seen.
 */
function watchReportedSettings(client: pg.Client, state: SessionState): void {
  onParameterStatus(client, (message) => {
    if (message.parameterName === "search_path") state.reportsSearchPath = true;
    else if (message.parameterName === "standard_conforming_strings")
      state.standardConformingStrings = message.parameterValue !== "off";
  });
}

/** @internal */
export function sessionOf(client: pg.Client): SessionState | undefined {
  return (client as WithSession)[kSession];
}
