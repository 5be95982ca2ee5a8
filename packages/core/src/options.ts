import type { Clock } from "./clock.js";
import { systemClock } from "./clock.js";
import type { Connector } from "./connector.js";
import { InvalidOptionError } from "./errors.js";

/** Pre-ping settings: stage 2 (bypass window) and stage 3 (ping deadline) of a borrow. */
export interface PrePingOptions {
  /** Skip the round trip when the connection was last used successfully this recently. Default 500. */
  bypassWindowMillis?: number;
  /** How long a ping may take before the connection is counted dead. Default 2000. */
  timeoutMillis?: number;
}

/** The tuning options every Lifeguard pool accepts (adapters take the same object). */
export interface LifeguardOptions {
  /** Tells pools apart in metrics and errors. Default `pool-<n>` (the pg drop-in: host:port/database). */
  name?: string;
  /** Connections opened at start and kept open. Default 0. */
  min?: number;
  /** Most connections open at once. Default 10. */
  max?: number;
  /** How long `acquire()` waits before failing with `AcquireTimeoutError`. Default 10000. */
  acquireTimeoutMillis?: number;
  /** Close connections idle this long, above `min`. 0 = never. Default 10000. */
  idleTimeoutMillis?: number;
  /** Retire connections this old (minus jitter). 0 = never. Default 1800. */
  maxLifetimeSeconds?: number;
  /** Fraction of the lifetime by which each connection retires early, at random. Default 0.025. */
  lifetimeJitter?: number;
  /** Retire a connection after this many leases. Default Infinity. */
  maxUses?: number;
  /**
   * Most callers that may wait for a busy pool (beyond the connections it can still open); more
   * fail at once with `PoolQueueFullError`. Default Infinity.
   */
  maxWaiting?: number;
  /** Check connections before lending them; `false` keeps only the free local check. */
  prePing?: PrePingOptions | false;
  /** Report a lease held longer than this, with the stack that acquired it. 0 = off. Default 0. */
  leakDetectionThresholdMillis?: number;
  /** How long `close()` waits for leases to come back before closing them anyway. Default 10000. */
  shutdownTimeoutMillis?: number;
}

/** Everything `createPool` accepts. */
export interface PoolOptions<C> extends LifeguardOptions {
  /** Opens, checks, cleans and closes connections: the only part that knows the database. */
  connector: Connector<C>;
  /** Time source and timer; inject a `ManualClock` in tests. */
  clock?: Clock;
  /** Random source in [0, 1) for lifetime and backoff jitter; inject a fixed one in tests. */
  random?: () => number;
}

/** @internal Options after validation, with defaults applied. */
export interface ResolvedOptions<C> {
  readonly connector: Connector<C>;
  readonly clock: Clock;
  readonly random: () => number;
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly acquireTimeoutMillis: number;
  readonly idleTimeoutMillis: number;
  readonly maxLifetimeSeconds: number;
  readonly lifetimeJitter: number;
  readonly maxUses: number;
  readonly maxWaiting: number;
  readonly prePing: false | { readonly bypassWindowMillis: number; readonly timeoutMillis: number };
  readonly leakDetectionThresholdMillis: number;
  readonly shutdownTimeoutMillis: number;
}

/** Longest delay a Node timer accepts. */
const MAX_TIMER = 2_147_483_647;

/** How one numeric option is checked; also the source of the configuration reference. */
export interface NumberOptionDefinition {
  readonly kind: "integer" | "number";
  readonly min: number;
  readonly max: number;
  /** Infinity is also accepted (and means "no limit"). */
  readonly allowInfinity?: boolean;
  readonly default: number;
  readonly description: string;
}

/** The numeric tuning options: name → rule. Shared with config-from-env parsing and the docs. */
export const numberOptions = {
  min: {
    kind: "integer",
    min: 0,
    max: 10_000,
    default: 0,
    description: "Connections opened at start and kept open.",
  },
  max: {
    kind: "integer",
    min: 1,
    max: 10_000,
    default: 10,
    description: "Most connections open at once.",
  },
  acquireTimeoutMillis: {
    kind: "integer",
    min: 1,
    max: MAX_TIMER,
    default: 10_000,
    description: "How long acquire() waits for a connection.",
  },
  idleTimeoutMillis: {
    kind: "integer",
    min: 0,
    max: MAX_TIMER,
    default: 10_000,
    description: "Close connections idle this long, above min (0 = never).",
  },
  maxLifetimeSeconds: {
    kind: "number",
    min: 0,
    max: MAX_TIMER / 1000,
    default: 1800,
    description: "Retire connections this old, minus jitter (0 = never).",
  },
  lifetimeJitter: {
    kind: "number",
    min: 0,
    max: 0.5,
    default: 0.025,
    description: "Fraction of the lifetime each connection may retire early, at random.",
  },
  maxUses: {
    kind: "integer",
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    allowInfinity: true,
    default: Number.POSITIVE_INFINITY,
    description: "Retire a connection after this many leases.",
  },
  maxWaiting: {
    kind: "integer",
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    allowInfinity: true,
    default: Number.POSITIVE_INFINITY,
    description:
      "Most callers waiting for a busy pool (beyond what it can still open); more fail at once.",
  },
  leakDetectionThresholdMillis: {
    kind: "integer",
    min: 0,
    max: MAX_TIMER,
    default: 0,
    description: "Report leases held longer than this, with their acquire stack (0 = off).",
  },
  shutdownTimeoutMillis: {
    kind: "integer",
    min: 0,
    max: MAX_TIMER,
    default: 10_000,
    description: "How long close() waits for leases before closing them anyway.",
  },
} as const satisfies Record<string, NumberOptionDefinition>;

/** Pre-ping's nested numeric options. */
export const prePingOptions = {
  bypassWindowMillis: {
    kind: "integer",
    min: 0,
    max: MAX_TIMER,
    default: 500,
    description: "Skip the ping when the connection was used successfully this recently.",
  },
  timeoutMillis: {
    kind: "integer",
    min: 1,
    max: MAX_TIMER,
    default: 2000,
    description: "How long a ping may take before the connection counts as dead.",
  },
} as const satisfies Record<string, NumberOptionDefinition>;

/**
 * One option's rule, in the one table per package that drives validation, the environment
 * variables (`lifeguardConfigFromEnv`) and the generated configuration reference
 * (docs/configuration.md). Kinds: number, enum, boolean, string, list, object.
 */
export type OptionSpec =
  | { readonly kind: "number"; readonly rule: NumberOptionDefinition }
  | {
      readonly kind: "enum";
      /** `false` may be one of them: it then means "off", and has no environment spelling. */
      readonly values: readonly (string | false)[];
      readonly default: string | false;
      readonly description: string;
    }
  | { readonly kind: "boolean"; readonly default: boolean; readonly description: string }
  | {
      readonly kind: "string";
      readonly default: string | undefined;
      /** The default, as the reference shows it (when there is no fixed one). */
      readonly defaultText: string;
      readonly maxLength: number;
      readonly description: string;
    }
  | {
      readonly kind: "list";
      /** Checks the whole list (an array) and returns it normalised; throws `InvalidOptionError`. */
      readonly check: (value: unknown) => readonly string[];
      /** Checks one item written in an environment variable; returns it normalised or throws. */
      readonly item: (value: string) => string;
      readonly defaultText: string;
      readonly description: string;
    }
  | {
      readonly kind: "object";
      readonly fields: OptionTable;
      /** Keys that must be given when the object is. */
      readonly required?: readonly string[];
      /** `false` turns it off (`prePing: false`); otherwise an absent object stays absent. */
      readonly canTurnOff: boolean;
      /** Absent means `{}` with every field's default (`prePing`), rather than absent (`budget`). */
      readonly defaultsWhenAbsent: boolean;
      readonly defaultText: string;
      readonly description: string;
    };

export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** Wraps each numeric rule as a table entry. */
function numberSpecs<T extends Record<string, NumberOptionDefinition>>(
  rules: T,
): { readonly [K in keyof T]: { readonly kind: "number"; readonly rule: T[K] } } {
  const out: Record<string, OptionSpec> = {};
  for (const [key, rule] of Object.entries(rules)) out[key] = { kind: "number", rule };
  return out as { readonly [K in keyof T]: { readonly kind: "number"; readonly rule: T[K] } };
}

/** Core's option table: every `LifeguardOptions` key, in the reference's order. */
export const lifeguardOptionTable = {
  name: {
    kind: "string",
    default: undefined,
    defaultText: "`pool-<n>` (the pg drop-in: `host:port/database`)",
    maxLength: 200,
    description: "Tells pools apart in metrics and errors.",
  },
  ...numberSpecs(numberOptions),
  prePing: {
    kind: "object",
    fields: numberSpecs(prePingOptions),
    canTurnOff: true,
    defaultsWhenAbsent: true,
    defaultText: "on",
    description: "`false` turns pre-ping off (the free local check stays).",
  },
} as const satisfies OptionTable;

/** What a value of this option must be, for error messages and the reference. */
export function describeSpec(spec: OptionSpec): string {
  switch (spec.kind) {
    case "number":
      return describeRule(spec.rule);
    case "enum": {
      const names = spec.values.map((v) => (v === false ? "false" : JSON.stringify(v)));
      return `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
    }
    case "boolean":
      return "true or false";
    case "string":
      return `a non-empty string of at most ${spec.maxLength} characters`;
    case "list":
      return "an array";
    case "object": {
      const shape = `an object { ${Object.keys(spec.fields).join(", ")} }`;
      return spec.canTurnOff ? `false or ${shape}` : shape;
    }
    default:
      return spec satisfies never;
  }
}

/**
 * Checks one option against its spec and returns it with its default applied (`undefined` when
 * it has none). The error names the option (`prePing.timeoutMillis`) and what it accepts.
 */
export function checkOption(name: string, value: unknown, spec: OptionSpec): unknown {
  const invalid = () =>
    new InvalidOptionError(
      name,
      `Invalid option "${name}": expected ${describeSpec(spec)}; got ${describe(value)}.`,
    );
  switch (spec.kind) {
    case "number":
      return checkNumber(name, value, spec.rule);
    case "enum":
      if (value === undefined) return spec.default;
      if (!spec.values.includes(value as string | false)) throw invalid();
      return value;
    case "boolean":
      if (value === undefined) return spec.default;
      if (typeof value !== "boolean") throw invalid();
      return value;
    case "string":
      if (value === undefined) return spec.default;
      if (typeof value !== "string" || value.trim() === "" || value.length > spec.maxLength)
        throw invalid();
      return value;
    case "list":
      return value === undefined ? undefined : spec.check(value);
    case "object":
      return checkObject(name, value, spec);
    default:
      return spec satisfies never;
  }
}

function checkObject(
  name: string,
  value: unknown,
  spec: Extract<OptionSpec, { kind: "object" }>,
): unknown {
  if (value === false && spec.canTurnOff) return false;
  if (value === undefined) {
    if (!spec.defaultsWhenAbsent) return undefined;
    value = {};
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidOptionError(
      name,
      `Invalid option "${name}": expected ${describeSpec(spec)}; got ${describe(value)}.`,
    );
  }
  const record = value as Record<string, unknown>;
  const known = Object.keys(spec.fields).map((key) => `${name}.${key}`);
  for (const key of Object.keys(record)) {
    if (!(key in spec.fields)) {
      const error = unknownOption(`${name}.${key}`, known);
      throw new InvalidOptionError(
        error.option,
        error.message.replace(
          `Unknown option "${name}.${key}".`,
          `Unknown option "${name}.${key}": unknown key "${key}" in "${name}".`,
        ),
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(spec.fields)) {
    const fieldValue = record[key];
    if (fieldValue === undefined && spec.required?.includes(key) !== true) {
      const fallback = checkOption(`${name}.${key}`, undefined, field);
      if (fallback !== undefined) out[key] = fallback;
      continue;
    }
    try {
      out[key] = checkOption(`${name}.${key}`, fieldValue, field);
    } catch (error) {
      if (!(error instanceof InvalidOptionError) || error.option !== `${name}.${key}`) throw error;
      throw new InvalidOptionError(
        error.option,
        `Invalid option "${name}.${key}": "${key}" must be ${describeSpec(field)}; got ${describe(fieldValue)}.`,
      );
    }
  }
  return out;
}

/** Every key `LifeguardOptions` has: adapters use it to split Lifeguard options from their own. */
export const lifeguardOptionKeys: readonly (keyof LifeguardOptions)[] = Object.keys(
  lifeguardOptionTable,
) as (keyof typeof lifeguardOptionTable)[];

const poolOnlyKeys = ["connector", "clock", "random"] as const;

let poolCounter = 0;

/** Validates options (rejecting unknown keys) and applies defaults. @internal */
export function resolveOptions<C>(options: PoolOptions<C>): ResolvedOptions<C> {
  if (options === null || typeof options !== "object") {
    throw new InvalidOptionError(
      "options",
      `createPool() needs an options object with a "connector"; got ${describe(options)}.`,
    );
  }
  const known = new Set<string>([...lifeguardOptionKeys, ...poolOnlyKeys]);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw unknownOption(key, known);
  }
  const connector = checkConnector<C>(options.connector);
  const clock = checkClock(options.clock);
  if (options.random !== undefined && typeof options.random !== "function") {
    throw new InvalidOptionError(
      "random",
      `Invalid option "random": expected a function returning a number in [0, 1); got ${describe(options.random)}.`,
    );
  }
  const record = options as unknown as Record<string, unknown>;
  // every tuning option through its one rule in the table
  const checked: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(lifeguardOptionTable) as [string, OptionSpec][]) {
    checked[key] = checkOption(key, record[key], spec);
  }
  const tuning = checked as Omit<ResolvedOptions<C>, "connector" | "clock" | "random" | "name"> & {
    name: string | undefined;
  };
  if (tuning.min > tuning.max) {
    throw new InvalidOptionError(
      "min",
      `Invalid option "min": ${tuning.min} is more than "max" (${tuning.max}); "min" must be from 0 to max.`,
    );
  }
  return {
    ...tuning,
    connector,
    clock,
    random: options.random ?? Math.random,
    name: tuning.name ?? `pool-${++poolCounter}`,
  };
}

/** Checks one numeric option against its rule; `undefined` gives the default. */
export function checkNumber(name: string, value: unknown, rule: NumberOptionDefinition): number {
  if (value === undefined) return rule.default;
  const ok =
    typeof value === "number" &&
    !Number.isNaN(value) &&
    ((rule.allowInfinity === true && value === Number.POSITIVE_INFINITY) ||
      (Number.isFinite(value) &&
        value >= rule.min &&
        value <= rule.max &&
        (rule.kind === "number" || Number.isInteger(value))));
  if (!ok) {
    throw new InvalidOptionError(
      name,
      `Invalid option "${name}": expected ${describeRule(rule)}; got ${describe(value)}.`,
    );
  }
  return value as number;
}

export function describeRule(rule: NumberOptionDefinition): string {
  const what = rule.kind === "integer" ? "an integer" : "a number";
  const upper = rule.max >= Number.MAX_SAFE_INTEGER ? "" : ` to ${rule.max}`;
  const from = upper === "" ? ` of at least ${rule.min}` : ` from ${rule.min}${upper}`;
  return `${what}${from}${rule.allowInfinity === true ? " (or Infinity)" : ""}`;
}

const connectorMembers = ["connect", "isBroken", "ping", "release", "destroy", "classify"] as const;

function checkConnector<C>(value: unknown): Connector<C> {
  if (value === null || typeof value !== "object") {
    throw new InvalidOptionError(
      "connector",
      `Invalid option "connector": expected an object with ${connectorMembers.join(", ")}; got ${describe(value)}.`,
    );
  }
  for (const member of connectorMembers) {
    if (typeof (value as Record<string, unknown>)[member] !== "function") {
      throw new InvalidOptionError(
        "connector",
        `Invalid option "connector": its "${member}" must be a function (a connector has ${connectorMembers.join(", ")}).`,
      );
    }
  }
  return value as Connector<C>;
}

function checkClock(value: unknown): Clock {
  if (value === undefined) return systemClock;
  const record = value as Record<string, unknown> | null;
  if (
    record === null ||
    typeof record !== "object" ||
    typeof record["now"] !== "function" ||
    typeof record["setTimeout"] !== "function" ||
    typeof record["clearTimeout"] !== "function"
  ) {
    throw new InvalidOptionError(
      "clock",
      `Invalid option "clock": expected an object with now(), setTimeout() and clearTimeout(); got ${describe(value)}.`,
    );
  }
  return value as Clock;
}

/** The error for a key no rule knows, with the closest known name as a hint. */
export function unknownOption(key: string, known: Iterable<string>): InvalidOptionError {
  const suggestion = closest(key, known);
  const hint = suggestion === undefined ? "" : ` Did you mean "${suggestion}"?`;
  return new InvalidOptionError(
    key,
    `Unknown option "${key}".${hint} Allowed: ${[...known].join(", ")}.`,
  );
}

function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = distance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + cost,
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

export function describe(value: unknown): string {
  if (typeof value === "string")
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (
    typeof value === "number" ||
    typeof value === "boolean" ||
    value === null ||
    value === undefined
  )
    return String(value);
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : typeof value;
}
