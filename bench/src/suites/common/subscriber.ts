/**
 * The "metrics on" subscriber Lifeguard runs with in the suites that measure it with its
 * `diagnostics_channel` events published (core, garbage, metrics' "channels on", the database
 * suites): trivial work that reads each payload, as an application's metrics would.
 */
import diagnosticsChannel from "node:diagnostics_channel";
import type { ConnectionAcquireEvent, ConnectionReleaseEvent } from "@lifeguard/core";
import { channelNames } from "@lifeguard/core";

let observed = 0;
const onAcquire = (message: unknown) => {
  observed += (message as ConnectionAcquireEvent).connectionId;
};
const onRelease = (message: unknown) => {
  observed += (message as ConnectionReleaseEvent).useMillis > 1e9 ? 1 : 0;
};
let subscribed = false;

/**
 * Subscribes to `lifeguard:connection:acquire` and `:release` once per process and stays
 * subscribed, as an application's metrics would (subscribing per sample would flip the channels
 * between their inactive and active classes every time).
 */
export function subscribeMetrics(): void {
  if (subscribed) return;
  diagnosticsChannel.subscribe(channelNames.connectionAcquire, onAcquire);
  diagnosticsChannel.subscribe(channelNames.connectionRelease, onRelease);
  subscribed = true;
}

/** Keeps the subscriber's work observable so it is not optimised away. */
export function observedByMetrics(): number {
  return observed;
}
