import type { OptionSpec } from "@lifeguard/core/internal";
import { checkOption } from "@lifeguard/core/internal";

/** The platforms a preset exists for, stated once: the type, the option table and the reference read them. */
export const serverlessPresetNames = ["lambda", "vercel"] as const;

/** A serverless platform whose preset `serverless` applies. */
export type ServerlessPreset = (typeof serverlessPresetNames)[number];

/** The `serverless` option's rule, in pg's option table (validation, `LIFEGUARD_SERVERLESS`, the reference). */
export const serverlessOptionSpec = {
  kind: "enum",
  values: [false, ...serverlessPresetNames],
  default: false,
  description:
    "Sizes and timeouts for a serverless platform (docs/serverless.md); given options win.",
} as const satisfies OptionSpec;

/** What one preset sets: options of the pg drop-in, each the user may still give. */
export interface ServerlessPresetOptions {
  readonly max: number;
  readonly min: number;
  readonly idleTimeoutMillis: number;
  readonly connectionTimeoutMillis: number;
  readonly prePing: { readonly bypassWindowMillis: number };
  readonly allowExitOnIdle: boolean;
}

/**
 * The presets. The reasoning for every value is in docs/serverless.md; in short:
 * - both: `min: 0` (a connection opened for `min` in an instance that may be frozen next is a
 *   server slot nobody uses), a bypass window that only has to cover a running process (a freeze
 *   is measured, and every idle connection is pinged after one), and a 5 s acquire bound (a
 *   function's own deadline is short: fail while an answer can still be sent).
 * - lambda: one invocation at a time per instance, so one connection; no client idle timeout (the
 *   timer cannot run while the instance is frozen, and after a thaw a ping is cheaper than a new
 *   connection); idle sockets unref'd so callback handlers that wait for an empty event loop end.
 * - vercel: concurrent requests per instance (Fluid compute), so a few connections; a 5 s idle
 *   timeout, which `attachDatabasePool()` keeps the instance alive for after each release, so idle
 *   connections close before the instance is suspended.
 */
export const serverlessPresets: { readonly [P in ServerlessPreset]: ServerlessPresetOptions } = {
  lambda: {
    max: 1,
    min: 0,
    idleTimeoutMillis: 0,
    connectionTimeoutMillis: 5000,
    prePing: { bypassWindowMillis: 10_000 },
    allowExitOnIdle: true,
  },
  vercel: {
    max: 5,
    min: 0,
    idleTimeoutMillis: 5000,
    connectionTimeoutMillis: 5000,
    prePing: { bypassWindowMillis: 5000 },
    allowExitOnIdle: false,
  },
};

/** Options that name the same setting as a preset's: given any of them, the user set it. */
const sameSetting: Readonly<Record<keyof ServerlessPresetOptions, readonly string[]>> = {
  max: ["max", "poolSize"],
  min: ["min"],
  idleTimeoutMillis: ["idleTimeoutMillis"],
  connectionTimeoutMillis: ["connectionTimeoutMillis", "acquireTimeoutMillis"],
  prePing: ["prePing"],
  allowExitOnIdle: ["allowExitOnIdle"],
};

/**
 * The config with its `serverless` preset's values under the ones the user gave (a `prePing`
 * object is merged field by field; `prePing: false` stays off). The same object when no preset is
 * named. Throws `InvalidOptionError` naming the presets for an unknown one.
 */
export function withServerlessPreset<T extends object>(config: T): T {
  const record = config as Record<string, unknown>;
  const name = checkOption("serverless", record["serverless"], serverlessOptionSpec);
  if (name === false) return config;
  const preset = serverlessPresets[name as ServerlessPreset];
  // copied with descriptors: pg's hidden (non-enumerable) password must stay hidden
  const out = Object.defineProperties({}, Object.getOwnPropertyDescriptors(config)) as Record<
    string,
    unknown
  >;
  for (const key of Object.keys(preset) as (keyof ServerlessPresetOptions)[]) {
    const given = sameSetting[key].some((k) => record[k] !== undefined);
    if (!given) {
      out[key] = key === "prePing" ? { ...preset.prePing } : preset[key];
    } else if (key === "prePing" && isObject(record["prePing"])) {
      out["prePing"] = { ...preset.prePing, ...definedFields(record["prePing"]) };
    }
  }
  return out as T;
}

function definedFields(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
