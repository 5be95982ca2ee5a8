import { InvalidOptionError } from "./errors.js";
import type { LifeguardOptions, NumberOptionDefinition, OptionTable } from "./options.js";
import { checkNumber, describeRule, lifeguardOptionTable, unknownOption } from "./options.js";

/**
 * How one environment variable maps onto an option. `path` is where the value goes in the options
 * object (`["prePing", "timeoutMillis"]`).
 */
export type EnvVariable =
  | {
      readonly type: "number";
      readonly path: readonly string[];
      readonly rule: NumberOptionDefinition;
    }
  | {
      readonly type: "string";
      readonly path: readonly string[];
      readonly description: string;
      /** The default, as the reference shows it. */
      readonly defaultText: string;
    }
  | {
      readonly type: "enum";
      readonly path: readonly string[];
      readonly values: readonly string[];
      readonly description: string;
      readonly defaultText: string;
    }
  | {
      readonly type: "boolean";
      readonly path: readonly string[];
      readonly description: string;
      readonly defaultText: string;
    }
  | {
      readonly type: "list";
      readonly path: readonly string[];
      readonly description: string;
      readonly defaultText: string;
      /** Checks one item; returns it (normalised) or throws a message. */
      readonly item: (value: string) => string;
    }
  /** `false` turns a nested option off (`LIFEGUARD_PRE_PING=false`). */
  | {
      readonly type: "off";
      readonly path: readonly string[];
      readonly description: string;
      readonly defaultText: string;
    };

/** Environment variables by name without the prefix: `MAX`, `PRE_PING_TIMEOUT_MILLIS`, ... */
export type EnvSchema = Readonly<Record<string, EnvVariable>>;

/** `maxLifetimeSeconds` → `MAX_LIFETIME_SECONDS`; `prePing.bypassWindowMillis` → `PRE_PING_BYPASS_WINDOW_MILLIS`. */
export function envName(path: readonly string[]): string {
  return path.map((part) => part.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()).join("_");
}

/**
 * The environment variables of an option table, in its order: one per leaf option, plus `NAME=false`
 * for an object that can be turned off. Nothing here is written by hand: the table is the source.
 */
export function envSchemaOf(table: OptionTable, prefix: readonly string[] = []): EnvSchema {
  const out: Record<string, EnvVariable> = {};
  for (const [key, spec] of Object.entries(table)) {
    const path = [...prefix, key];
    const name = envName(path);
    switch (spec.kind) {
      case "number":
        out[name] = { type: "number", path, rule: spec.rule };
        break;
      case "string":
        out[name] = {
          type: "string",
          path,
          description: spec.description,
          defaultText: spec.default === undefined ? spec.defaultText : `\`${spec.default}\``,
        };
        break;
      case "enum":
        out[name] = {
          type: "enum",
          path,
          values: spec.values.filter((v): v is string => v !== false),
          description: spec.description,
          defaultText: spec.default === false ? "off" : `\`${spec.default}\``,
        };
        break;
      case "boolean":
        out[name] = {
          type: "boolean",
          path,
          description: spec.description,
          defaultText: `\`${spec.default}\``,
        };
        break;
      case "list":
        out[name] = {
          type: "list",
          path,
          description: spec.description,
          defaultText: spec.defaultText,
          item: spec.item,
        };
        break;
      case "object":
        if (spec.canTurnOff) {
          out[name] = {
            type: "off",
            path,
            description: spec.description,
            defaultText: spec.defaultText,
          };
        }
        Object.assign(out, envSchemaOf(spec.fields, path));
        break;
      default:
        spec satisfies never;
    }
  }
  return out;
}

/** Every core option's environment variable. */
export const lifeguardEnvSchema: EnvSchema = envSchemaOf(lifeguardOptionTable);

export interface ConfigFromEnvOptions {
  /** Only variables with this prefix are read. Default `LIFEGUARD_`. */
  prefix?: string;
  /**
   * What to do with a variable that has the prefix but no meaning: `"throw"` (default: a typo must
   * not be silently ignored) or `"ignore"` (when the prefix is shared with other settings).
   */
  unknown?: "throw" | "ignore";
}

/**
 * Reads options from environment variables, by a schema. A bad value throws
 * `InvalidOptionError` naming the variable and what it accepts.
 */
export function configFromEnv<T>(
  schema: EnvSchema,
  env: Readonly<Record<string, string | undefined>>,
  options: ConfigFromEnvOptions = {},
): T {
  const prefix = options.prefix ?? "LIFEGUARD_";
  const config: Record<string, unknown> = {};
  const offs = new Set<string>();
  const known = Object.keys(schema).map((name) => `${prefix}${name}`);
  for (const [variable, raw] of Object.entries(env)) {
    if (!variable.startsWith(prefix) || raw === undefined) continue;
    const definition = schema[variable.slice(prefix.length)];
    if (definition === undefined) {
      if (options.unknown === "ignore") continue;
      throw unknownOption(variable, known);
    }
    const value = parseVariable(variable, raw.trim(), definition);
    if (definition.type === "off") {
      if (value === false) offs.add(definition.path.join("."));
      continue;
    }
    setPath(config, definition.path, value);
  }
  for (const off of offs) {
    const path = off.split(".");
    if (getPath(config, path) !== undefined) {
      throw new InvalidOptionError(
        `${prefix}${envName(path)}`,
        `${prefix}${envName(path)}=false turns "${off}" off, but ${prefix}${envName(path)}_* variables also set it: remove one or the other.`,
      );
    }
    setPath(config, path, false);
  }
  return config as T;
}

/**
 * Reads Lifeguard's options from `LIFEGUARD_*` environment variables:
 * `LIFEGUARD_MAX=20`, `LIFEGUARD_PRE_PING_BYPASS_WINDOW_MILLIS=500`, `LIFEGUARD_PRE_PING=false`.
 * `@lifeguard/pg` exports a version that also knows the PostgreSQL options.
 */
export function lifeguardConfigFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
  options?: ConfigFromEnvOptions,
): LifeguardOptions {
  return configFromEnv<LifeguardOptions>(lifeguardEnvSchema, env, options);
}

/**
 * Types a shared configuration without changing it, so one workspace package can own the pool
 * settings of every service:
 *
 * ```ts
 * export const poolConfig = defineLifeguardConfig({ max: 20, prePing: { bypassWindowMillis: 250 } });
 * ```
 */
export function defineLifeguardConfig<const T extends LifeguardOptions>(config: T): T {
  return config;
}

function parseVariable(variable: string, raw: string, definition: EnvVariable): unknown {
  const bad = (expected: string) =>
    new InvalidOptionError(
      variable,
      `Invalid environment variable ${variable}=${JSON.stringify(raw)}: expected ${expected}.`,
    );
  switch (definition.type) {
    case "number": {
      const value = /^[+-]?infinity$/i.test(raw)
        ? Number.POSITIVE_INFINITY
        : raw === ""
          ? Number.NaN
          : Number(raw);
      try {
        return checkNumber(variable, value, definition.rule);
      } catch {
        throw bad(describeRule(definition.rule));
      }
    }
    case "string":
      if (raw === "") throw bad("a non-empty string");
      return raw;
    case "enum":
      if (!definition.values.includes(raw)) throw bad(`one of ${definition.values.join(", ")}`);
      return raw;
    case "boolean":
    case "off": {
      const lower = raw.toLowerCase();
      if (lower === "true" || lower === "1") return true;
      if (lower === "false" || lower === "0") return false;
      throw bad(
        definition.type === "off" ? '"false" (to turn it off) or "true"' : '"true" or "false"',
      );
    }
    case "list": {
      const items = raw
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item !== "");
      try {
        return items.map(definition.item);
      } catch (error) {
        throw bad(
          `a comma-separated list: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    default:
      return definition satisfies never;
  }
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined || next === false) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

function getPath(target: Record<string, unknown>, path: readonly string[]): unknown {
  let node: unknown = target;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}
