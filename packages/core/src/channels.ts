import diagnosticsChannel from "node:diagnostics_channel";
import type { DestroyReason } from "./entry.js";
import type { ServerStats } from "./server-stats.js";
import type { PoolStats } from "./stats.js";

/**
 * Every diagnostics channel Lifeguard publishes on, in one table. Names are
 * `lifeguard:<area>:<event>`. Publishers check `hasSubscribers` first, so an unobserved pool pays
 * nothing. Subscribers run synchronously inside the pool: they must be fast and must not throw.
 */
export const channelNames = {
  /** A pool was created. Payload: {@link PoolEvent}. */
  poolCreate: "lifeguard:pool:create",
  /** A pool finished closing. Payload: {@link PoolCloseEvent}. */
  poolClose: "lifeguard:pool:close",
  /** An acquire gave up at its deadline. Payload: {@link AcquireFailedEvent}. */
  acquireTimeout: "lifeguard:pool:acquire-timeout",
  /** An acquire was rejected at once because `maxWaiting` callers were already waiting. */
  queueFull: "lifeguard:pool:queue-full",
  /** An acquire failed fast because the database cannot be reached. */
  unavailable: "lifeguard:pool:unavailable",
  /** No connection can be made and none is open: acquires now fail fast. Payload: {@link CircuitEvent}. */
  circuitOpen: "lifeguard:pool:circuit-open",
  /** A connection succeeded again after the circuit opened. */
  circuitClose: "lifeguard:pool:circuit-close",
  /** Housekeeping found the clock jumped ahead (suspend, frozen instance): idle connections get pinged. */
  clockLeap: "lifeguard:pool:clock-leap",
  /** A lease was held longer than `leakDetectionThresholdMillis`. Payload: {@link LeakEvent}. */
  leak: "lifeguard:pool:leak",
  /** A lease reported as leaked came back. Payload: {@link LeakEvent}. */
  leakReturned: "lifeguard:pool:leak-returned",
  /** A connection was opened. Payload: {@link ConnectionCreateEvent}. */
  connectionCreate: "lifeguard:connection:create",
  /** Opening a connection failed. Payload: {@link ConnectionCreateErrorEvent}. */
  connectionCreateError: "lifeguard:connection:create-error",
  /** A connection was handed to a caller. Payload: {@link ConnectionAcquireEvent}. */
  connectionAcquire: "lifeguard:connection:acquire",
  /** A caller gave a connection back. Payload: {@link ConnectionReleaseEvent}. */
  connectionRelease: "lifeguard:connection:release",
  /** A connection was closed. Payload: {@link ConnectionDestroyEvent}. */
  connectionDestroy: "lifeguard:connection:destroy",
  /** A pre-ping round trip finished. Payload: {@link ConnectionPingEvent}. */
  connectionPing: "lifeguard:connection:ping",
  /** A connector rolled back a transaction left open by the borrower. Payload: {@link ConnectionSessionEvent}. */
  connectionRollback: "lifeguard:connection:rollback",
  /** A connector reset the session state before the next borrower. Payload: {@link ConnectionSessionEvent}. */
  connectionReset: "lifeguard:connection:reset",
  /** An idle connection reported an error (it will be replaced). Payload: {@link ConnectionErrorEvent}. */
  connectionError: "lifeguard:connection:error",
  /** Something a user should know that is not an error (a connector's warning). Payload: {@link WarningEvent}. */
  warning: "lifeguard:pool:warning",
} as const;

export type ChannelName = (typeof channelNames)[keyof typeof channelNames];

/** The part of a pool every event carries. */
export interface PoolLike {
  readonly name: string;
  stats(): PoolStats;
  /** Connections by server, for a pool spread over several (see `Pool.servers()`). */
  servers?(): readonly ServerStats[];
}

export interface PoolEvent {
  readonly pool: PoolLike;
}
export interface PoolCloseEvent extends PoolEvent {
  readonly forced: boolean;
  readonly leasesOutstanding: number;
}
export interface AcquireFailedEvent extends PoolEvent {
  readonly waitMillis: number;
  readonly error: Error;
}
export interface CircuitEvent extends PoolEvent {
  readonly error: unknown;
}
export interface ClockLeapEvent extends PoolEvent {
  readonly jumpMillis: number;
}
export interface LeakEvent extends PoolEvent {
  readonly connectionId: number;
  readonly heldMillis: number;
  /** Where the lease was acquired. */
  readonly stack: string;
}
export interface ConnectionEvent extends PoolEvent {
  readonly connectionId: number;
}
export interface ConnectionCreateEvent extends ConnectionEvent {
  readonly durationMillis: number;
}
export interface ConnectionCreateErrorEvent extends PoolEvent {
  readonly durationMillis: number;
  readonly error: unknown;
  /** Consecutive failures so far, this one included. */
  readonly failures: number;
  readonly retryInMillis: number;
}
export interface ConnectionAcquireEvent extends ConnectionEvent {
  readonly waitMillis: number;
}
export interface ConnectionReleaseEvent extends ConnectionEvent {
  readonly useMillis: number;
}
export interface ConnectionDestroyEvent extends ConnectionEvent {
  readonly reason: DestroyReason;
}
export interface ConnectionPingEvent extends ConnectionEvent {
  readonly result: "ok" | "failed" | "timeout";
  readonly durationMillis: number;
  readonly error?: unknown;
}
export interface ConnectionSessionEvent extends ConnectionEvent {
  /** Stack of the acquire whose lease left the state behind, when leak detection is on. */
  readonly acquireStack: string | undefined;
}
export interface ConnectionErrorEvent extends PoolEvent {
  readonly error: unknown;
}
export interface WarningEvent extends PoolEvent {
  readonly code: string;
  readonly message: string;
}

/** The channel objects, by the keys of {@link channelNames}. */
export const channels = Object.fromEntries(
  Object.entries(channelNames).map(([key, name]) => [key, diagnosticsChannel.channel(name)]),
) as { readonly [K in keyof typeof channelNames]: diagnosticsChannel.Channel };
