import { InvalidOptionError } from "@lifeguard/core";
import type pg from "pg";

/** A notification as pg delivers it: `channel`, `payload` and the sender's backend `processId`. */
export type ListenNotification = pg.Notification;

/** A notification handler; a thrown error or rejected promise goes to `onError`, never stops delivery. */
export type ListenHandler = (notification: ListenNotification) => unknown;

/**
 * The listener's connection was lost and is back: notifications on `channel` sent between
 * `disconnectedAt` and `resumedAt` may be missing (PostgreSQL keeps none for a listener that is
 * gone). Everything sent after `resumedAt` arrives. Re-read what you track from the database.
 */
export interface ListenGap {
  readonly channel: string;
  /** When the listener saw its connection fail. */
  readonly disconnectedAt: Date;
  /** When every LISTEN was in place again on a new connection. */
  readonly resumedAt: Date;
  /** Connect attempts it took to get back (1 when the first one worked). */
  readonly attempts: number;
  /** Why the connection was lost, when pg said. */
  readonly cause: Error | undefined;
}

/** Options of one `pool.listen()` call. */
export interface ListenOptions {
  /** Called (once per subscription) after each gap, once notifications flow again. */
  onGap?: (gap: ListenGap) => unknown;
  /** Errors thrown by the handler or `onGap`; default: a process warning. */
  onError?: (error: unknown) => unknown;
  /** How long `listen()` may wait for its LISTEN to be in place. Default: the pool's `connectionTimeoutMillis`. */
  timeoutMillis?: number;
}

/** One handler on one channel; `unlisten()` stops delivery to it at once. */
export interface ListenSubscription {
  readonly channel: string;
  unlisten(): Promise<void>;
}

/** `listen()` could not get its LISTEN in place in time (the database is unreachable, or refuses). */
export class ListenTimeoutError extends Error {
  override readonly name = "ListenTimeoutError";
  readonly code = "LIFEGUARD_LISTEN_TIMEOUT" as const;
  readonly channel: string;
  constructor(poolName: string, channel: string, waitedMillis: number, cause: unknown) {
    const why =
      cause === undefined ? "" : `: ${cause instanceof Error ? cause.message : String(cause)}`;
    super(
      `LISTEN on channel "${channel}" (pool "${poolName}") was not in place after ${waitedMillis} ms${why}. The handler was removed; call listen() again.`,
      cause === undefined ? undefined : { cause },
    );
    this.channel = channel;
  }
}

/** PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes: a longer channel would never match. */
const MAX_CHANNEL_BYTES = 63;

/**
 * `"name"` with embedded quotes doubled: any string is a valid quoted identifier, so a channel
 * name is never SQL.
 */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function validateListen(
  channel: unknown,
  handler: unknown,
  options: ListenOptions,
  timeoutMillis: unknown,
): void {
  if (typeof channel !== "string" || channel === "" || channel.includes("\0")) {
    throw new InvalidOptionError(
      "channel",
      `pool.listen(channel): expected a non-empty string without NUL characters; got ${JSON.stringify(channel)}.`,
    );
  }
  if (Buffer.byteLength(channel) > MAX_CHANNEL_BYTES) {
    throw new InvalidOptionError(
      "channel",
      `pool.listen(channel): a channel name is at most ${MAX_CHANNEL_BYTES} bytes (PostgreSQL truncates longer identifiers, so its notifications would never match); got ${Buffer.byteLength(channel)} bytes.`,
    );
  }
  if (typeof handler !== "function") {
    throw new InvalidOptionError(
      "handler",
      `pool.listen(channel, handler): expected a function; got ${typeof handler}.`,
    );
  }
  for (const key of ["onGap", "onError"] as const) {
    if (options[key] !== undefined && typeof options[key] !== "function") {
      throw new InvalidOptionError(
        key,
        `pool.listen(): option "${key}" must be a function; got ${typeof options[key]}.`,
      );
    }
  }
  if (
    typeof timeoutMillis !== "number" ||
    !Number.isInteger(timeoutMillis) ||
    timeoutMillis < 1 ||
    timeoutMillis > 2_147_483_647
  ) {
    throw new InvalidOptionError(
      "timeoutMillis",
      `pool.listen(): option "timeoutMillis" must be an integer from 1 to 2147483647; got ${String(timeoutMillis)}.`,
    );
  }
}
