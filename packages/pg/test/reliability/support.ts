/**
 * Shared tools of the reliability suite (docs/reliability.md). Not a test file: vitest only collects
 * `*.test.ts`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import pg from "pg";

/** A small seeded PRNG (mulberry32): randomized scenarios replay exactly from their seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let collect: (() => void) | undefined;

/** Heap in use after a full garbage collection (V8's gc() exposed at run time). */
export function heapAfterGc(): number {
  if (collect === undefined) {
    setFlagsFromString("--expose-gc");
    collect = runInNewContext("gc") as () => void;
  }
  collect();
  collect();
  return process.memoryUsage().heapUsed;
}

/** Backends on the server whose `application_name` is `name` (the pool's, by construction). */
export async function backendsNamed(url: string, name: string): Promise<number> {
  const admin = new pg.Client({ connectionString: url });
  admin.on("error", () => undefined);
  await admin.connect();
  try {
    const { rows } = await admin.query<{ n: number }>(
      "select count(*)::int as n from pg_stat_activity where application_name = $1",
      [name],
    );
    return rows[0]?.n ?? -1;
  } finally {
    await admin.end();
  }
}

/** A pg.Client subclass that counts connect attempts (successful or not), for backoff checks. */
export function countingClient(): { Client: typeof pg.Client; attempts: () => number } {
  let attempts = 0;
  const connect = pg.Client.prototype.connect as (...args: unknown[]) => never;
  class CountingClient extends pg.Client {
    override connect(...args: unknown[]): never {
      attempts++;
      return connect.apply(this, args);
    }
  }
  return { Client: CountingClient, attempts: () => attempts };
}

/** The largest value `read()` returned, sampled on demand and every `everyMillis` until stopped. */
export function maxSampler(
  read: () => number,
  everyMillis = 1,
): { max(): number; sample(): void; stop(): void; samples(): number } {
  let max = Number.NEGATIVE_INFINITY;
  let count = 0;
  const sample = () => {
    count++;
    const value = read();
    if (value > max) max = value;
  };
  sample();
  const timer = setInterval(sample, everyMillis);
  return {
    max: () => max,
    sample,
    stop: () => clearInterval(timer),
    samples: () => count,
  };
}

/** Nearest-rank percentile of `values` (sorted copy). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/**
 * Records measured figures of a scenario for docs/reliability.md. Measurements are never
 * asserted (timing assertions flake); with `LIFEGUARD_RELIABILITY_REPORT=<dir>` set they are
 * written to `<dir>/<scenario>.json`, otherwise dropped.
 */
export function report(scenario: string, figures: Record<string, unknown>): void {
  const dir = process.env["LIFEGUARD_RELIABILITY_REPORT"];
  if (dir === undefined || dir === "") return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${scenario}.json`), `${JSON.stringify(figures, null, 2)}\n`);
}

/** Lets pending I/O callbacks run (a few turns of the event loop), without any timer. */
export async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** One request of a closed-loop load: when it started and ended, and how it failed, if it did. */
export interface RequestRecord {
  readonly start: number;
  readonly end: number;
  readonly error: unknown;
}

/**
 * A closed-loop load: `concurrency` workers each run `request()` again and again until stopped,
 * and every request is recorded. After a failure a worker calls `afterError(error)` before its next
 * request (the application's retry policy).
 */
export class Load {
  /** Every request; only the failed ones with `retain: "failures"`; none with `"none"`. */
  readonly records: RequestRecord[] = [];
  /** The most recent successful request. */
  lastSuccess: RequestRecord | undefined;
  successes = 0;
  readonly #workers: Promise<void>[];
  #stopped = false;
  #watchers: { check: () => boolean; resolve: () => void }[] = [];

  constructor(
    concurrency: number,
    request: (worker: number) => Promise<unknown>,
    afterError: (error: unknown) => Promise<void>,
    onRecord: (record: RequestRecord) => void = () => undefined,
    options: { retain?: "all" | "failures" | "none"; pause?: () => Promise<void> } = {},
  ) {
    const retain = options.retain ?? "all";
    this.#workers = Array.from({ length: concurrency }, async (_, worker) => {
      while (!this.#stopped) {
        const start = performance.now();
        let error: unknown;
        try {
          await request(worker);
        } catch (caught) {
          error = caught ?? new Error("rejected with nothing");
        }
        const record = { start, end: performance.now(), error };
        if (error === undefined) {
          this.successes++;
          this.lastSuccess = record;
        }
        if (retain === "all" || (retain === "failures" && error !== undefined))
          this.records.push(record);
        onRecord(record);
        this.#notify();
        if (error !== undefined && !this.#stopped) await afterError(error);
        else if (options.pause !== undefined) await options.pause();
      }
    });
  }

  /** Resolves once `check()` holds after some request completed (checked at every completion). */
  until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => this.#watchers.push({ check, resolve }));
  }

  /** Successful requests that started at or after `since`. */
  successesSince(since: number): number {
    let n = 0;
    for (const r of this.records) if (r.start >= since && r.error === undefined) n++;
    return n;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#workers);
  }

  /** Stops issuing requests without waiting for the ones in progress (which may never end). */
  abandon(): void {
    this.#stopped = true;
  }

  #notify(): void {
    if (this.#watchers.length === 0) return;
    const waiting = this.#watchers;
    this.#watchers = [];
    for (const w of waiting) {
      if (w.check()) w.resolve();
      else this.#watchers.push(w);
    }
  }
}

/** The `code` of an error, or its class name when it has none. */
export function errorKind(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code;
  if (error instanceof Error) return `${error.name}: ${error.message.slice(0, 60)}`;
  return String(error);
}

/** Counts of each error kind. */
export function tally(errors: readonly unknown[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of errors) {
    const kind = errorKind(e);
    out[kind] = (out[kind] ?? 0) + 1;
  }
  return out;
}
