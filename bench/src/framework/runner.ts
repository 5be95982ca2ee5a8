import { describeEnvironment } from "./environment.js";
import { formatMetric } from "./format.js";
import type { Executor } from "./isolation.js";
import { childExecutor, inProcessExecutor } from "./isolation.js";
import { primaryMetric } from "./stats.js";
import type { AnySuite, Sample, SuiteResult, SuiteSetup, Timing } from "./types.js";
import { SuiteSkipped } from "./types.js";

export const defaultTiming: { readonly full: Timing; readonly quick: Timing } = {
  full: { warmupMillis: 1000, rounds: 10, roundMillis: 500 },
  quick: { warmupMillis: 100, rounds: 3, roundMillis: 200 },
};

export interface RunOptions {
  readonly quick: boolean;
  /** Command-line overrides of the suite's timing. */
  readonly timing?: Partial<Timing>;
  /** Progress lines (stderr by default). */
  readonly log?: (line: string) => void;
}

export function resolveTiming(suite: AnySuite, options: RunOptions): Timing {
  const base = options.quick ? defaultTiming.quick : defaultTiming.full;
  const own = options.quick ? suite.timing?.quick : suite.timing?.full;
  return { ...base, ...own, ...options.timing };
}

/**
 * Runs one suite: setup, a warm-up sample per contender and case (discarded), then `rounds`
 * rounds; each round measures every case and, within a case, every contender in the same order
 * (A B C, A B C, ...), so drift of the machine over time hits every contender alike.
 */
export async function runSuite(suite: AnySuite, options: RunOptions): Promise<SuiteResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const timing = resolveTiming(suite, options);
  const startedAt = new Date().toISOString();
  const base = {
    name: suite.name,
    title: suite.title,
    description: suite.description,
    quick: options.quick,
    timing,
    isolation: suite.isolate === false ? ("none" as const) : ("process" as const),
    metrics: suite.metrics,
    subject: suite.subject,
    cases: suite.cases.map((c) => ({ id: c.id, label: c.label })),
    contenders: suite.contenders.map((c) => ({
      id: c.id,
      label: c.label,
      ...(c.version === undefined ? {} : { version: c.version }),
      ...(c.note === undefined ? {} : { note: c.note }),
      ...(c.reference === undefined ? {} : { reference: c.reference }),
    })),
    targets: suite.targets ?? [],
    ...(suite.extraRatios === undefined ? {} : { extraRatios: suite.extraRatios }),
    chart: suite.chart,
    ...(suite.execArgv === undefined || suite.isolate === false
      ? {}
      : { execArgv: suite.execArgv }),
  };
  check(suite);

  let setup: SuiteSetup<unknown> = { state: undefined };
  if (suite.setup !== undefined) {
    try {
      setup = await suite.setup({ quick: options.quick });
    } catch (error) {
      if (!(error instanceof SuiteSkipped)) throw error;
      log(`[${suite.name}] skipped: ${error.message}`);
      return {
        ...base,
        status: "skipped",
        skipReason: error.message,
        environment: describeEnvironment(),
        startedAt,
        finishedAt: new Date().toISOString(),
        samples: {},
      };
    }
  }
  const environment = describeEnvironment(setup.environment);
  const samples: Record<string, Record<string, Sample[]>> = {};
  const primary = primaryMetric(suite);
  const executors = new Map<string, Executor>();
  try {
    for (const contender of suite.contenders) {
      executors.set(
        contender.id,
        suite.isolate === false
          ? inProcessExecutor(suite, contender)
          : await childExecutor(suite, contender.id),
      );
    }
    log(
      `[${suite.name}] warm-up ${timing.warmupMillis} ms per contender and case, then ${timing.rounds} rounds of ${timing.roundMillis} ms`,
    );
    for (const c of suite.cases) {
      samples[c.id] = {};
      for (const contender of suite.contenders) {
        (samples[c.id] as Record<string, Sample[]>)[contender.id] = [];
        await (executors.get(contender.id) as Executor).run(c.id, {
          durationMillis: timing.warmupMillis,
          quick: options.quick,
          warmup: true,
          state: setup.state,
        });
      }
    }
    for (let round = 1; round <= timing.rounds; round++) {
      for (const c of suite.cases) {
        const line: string[] = [];
        for (const contender of suite.contenders) {
          const sample = await (executors.get(contender.id) as Executor).run(c.id, {
            durationMillis: timing.roundMillis,
            quick: options.quick,
            warmup: false,
            state: setup.state,
          });
          for (const metric of suite.metrics) {
            if (typeof sample[metric.key] !== "number") {
              throw new Error(
                `[${suite.name}] contender "${contender.id}" returned no "${metric.key}"`,
              );
            }
          }
          samples[c.id]?.[contender.id]?.push(sample);
          line.push(`${contender.id} ${formatMetric(primary, sample[primary.key] as number)}`);
        }
        log(`[${suite.name}] round ${round}/${timing.rounds} ${c.label}: ${line.join(", ")}`);
      }
    }
  } finally {
    for (const executor of executors.values()) await executor.close();
    await setup.teardown?.();
  }
  return {
    ...base,
    status: "done",
    environment,
    startedAt,
    finishedAt: new Date().toISOString(),
    samples,
  };
}

/** Catches suite definition mistakes before spending minutes measuring. */
function check(suite: AnySuite): void {
  const ids = new Set(suite.contenders.map((c) => c.id));
  const cases = new Set(suite.cases.map((c) => c.id));
  const metrics = new Set(suite.metrics.map((m) => m.key));
  if (ids.size !== suite.contenders.length)
    throw new Error(`[${suite.name}] duplicate contender id`);
  if (cases.size !== suite.cases.length) throw new Error(`[${suite.name}] duplicate case id`);
  if (metrics.size === 0) throw new Error(`[${suite.name}] no metrics`);
  if (!ids.has(suite.subject))
    throw new Error(`[${suite.name}] unknown subject "${suite.subject}"`);
  for (const t of suite.targets ?? []) {
    if (t.versus !== undefined && !ids.has(t.versus)) {
      throw new Error(`[${suite.name}] target versus unknown "${t.versus}"`);
    }
    if (t.subject !== undefined && !ids.has(t.subject)) {
      throw new Error(`[${suite.name}] target for unknown subject "${t.subject}"`);
    }
    if (t.versus !== undefined && t.versus === (t.subject ?? suite.subject)) {
      throw new Error(`[${suite.name}] target of "${t.versus}" against itself`);
    }
    for (const id of t.cases ?? []) {
      if (!cases.has(id)) throw new Error(`[${suite.name}] target for unknown case "${id}"`);
    }
    if (t.metric !== undefined && !metrics.has(t.metric)) {
      throw new Error(`[${suite.name}] target on unknown metric "${t.metric}"`);
    }
  }
  for (const r of suite.extraRatios ?? []) {
    if (!ids.has(r.subject) || !ids.has(r.versus)) {
      throw new Error(
        `[${suite.name}] extra ratio of unknown contenders ${r.subject} ÷ ${r.versus}`,
      );
    }
    if (r.metric !== undefined && !metrics.has(r.metric)) {
      throw new Error(`[${suite.name}] extra ratio on unknown metric "${r.metric}"`);
    }
  }
  if (suite.chart.metric !== undefined && !metrics.has(suite.chart.metric)) {
    throw new Error(`[${suite.name}] chart of unknown metric "${suite.chart.metric}"`);
  }
}
