/**
 * The benchmark framework's contract. A suite is data (cases, contenders, metrics, targets) plus
 * one `run` per contender; the runner owns the schedule (warm-up, alternating rounds, GC between
 * samples) and the writers own the output, so every suite is measured and reported the same way.
 */

/** How one measured number is named, compared and printed. */
export interface Metric {
  /** Key in every {@link Sample} the suite's contenders return. */
  readonly key: string;
  /** Column heading, e.g. "cycles/s". */
  readonly label: string;
  /** Which direction is better; ratios are always subject ÷ other, targets say which bound. */
  readonly better: "higher" | "lower";
  /** `si`: 1.23 M; `fixed`: plain number with `decimals` digits (default 0). */
  readonly format: "si" | "fixed";
  readonly decimals?: number;
  /** Printed after the number, e.g. " ns" (include the space). */
  readonly unit?: string;
}

/** One measurement of one contender in one case in one round: metric key → value. */
export type Sample = Readonly<Record<string, number>>;

/** One configuration every contender is measured in (e.g. concurrency 64). */
export interface BenchCase<P> {
  /** Stable id, used in results JSON and targets (e.g. "c64"). */
  readonly id: string;
  /** Shown in tables and the chart (e.g. "concurrency 64"). */
  readonly label: string;
  readonly params: P;
}

/** What a contender gets for one measurement. */
export interface RunContext<S> {
  /** How long a duration-based measurement should run. */
  readonly durationMillis: number;
  /** True in `--quick` smoke runs. */
  readonly quick: boolean;
  /** True while warming up (the sample is thrown away). */
  readonly warmup: boolean;
  /** Whatever the suite's `setup` returned (a database URL, ...); undefined without setup. */
  readonly state: S;
}

/** One thing being measured: a pool, a driver, a configuration. */
export interface Contender<P, S = undefined> {
  /** Stable id, used in results JSON and targets (e.g. "pg-pool"). */
  readonly id: string;
  readonly label: string;
  /** Package version (or anything that identifies what was measured). */
  readonly version?: string;
  /** How it was configured, shown under the suite's table. Markdown. */
  readonly note?: string;
  /** A floor or ceiling for context, not a competitor. */
  readonly reference?: boolean;
  /**
   * Measures once. Create and dispose everything it needs inside (a fresh pool per sample), so
   * samples do not share state. Must return every metric of the suite.
   */
  run(params: P, context: RunContext<S>): Promise<Sample>;
}

/**
 * A target on one metric: on the ratio subject ÷ `versus`, or, without `versus`, on the
 * subject's own median value (an absolute bound in the metric's unit, e.g. ≤ 6 KB).
 */
export interface Target {
  /** The other contender of the ratio; omitted for a bound on the subject's own value. */
  readonly versus?: string;
  /**
   * The contender the target is about; the suite's `subject` when omitted. Lets one suite hold the
   * targets of two configurations measured in the same rounds (Lifeguard's defaults and its
   * `reset: 'always'`, say).
   */
  readonly subject?: string;
  /** Case ids it applies to; all cases when omitted. */
  readonly cases?: readonly string[];
  /** Metric key; the suite's first metric when omitted. */
  readonly metric?: string;
  /** Met when the median ratio (or, without `versus`, the median value) is ≥ min and ≤ max. */
  readonly min?: number;
  readonly max?: number;
  /** How the target reads in the table, e.g. "≥ 3×". */
  readonly label: string;
}

/** A ratio subject ÷ versus of one metric (the suite's first when omitted). */
export interface RatioSpec {
  readonly subject: string;
  readonly versus: string;
  readonly metric?: string;
}

/** The one SVG chart of a suite: grouped bars, one group per case, one bar per contender. */
export interface ChartSpec {
  readonly title: string;
  /** Metric key; the suite's first metric when omitted. */
  readonly metric?: string;
  /** Draw `reference` contenders too (default: table only, so a distant floor does not squash the bars). */
  readonly includeReferences?: boolean;
}

/** What a suite's `setup` hands to the runner. */
export interface SuiteSetup<S> {
  readonly state: S;
  /** Extra environment lines for the report, e.g. { PostgreSQL: "15.18" }. */
  readonly environment?: Readonly<Record<string, string>>;
  teardown?(): Promise<void>;
}

/** Durations and counts the runner uses; suites may override the defaults. */
export interface Timing {
  /** Discarded measurements per contender and case before round 1. */
  readonly warmupMillis: number;
  /** Alternating rounds (A B C A B C ...); at least 5 for a full run. */
  readonly rounds: number;
  /** `durationMillis` of each measured sample. */
  readonly roundMillis: number;
}

export interface Suite<P, S = undefined> {
  /** CLI name (`--suite core`) and results key. */
  readonly name: string;
  readonly title: string;
  /** The method, in markdown: what is measured and how. Rendered under the title. */
  readonly description: string;
  readonly cases: readonly BenchCase<P>[];
  readonly contenders: readonly Contender<P, S>[];
  /** The first metric is the primary one: ratios, targets and the chart use it by default. */
  readonly metrics: readonly Metric[];
  /** The contender every ratio is about (subject ÷ other). */
  readonly subject: string;
  readonly targets?: readonly Target[];
  /**
   * Ratios to show besides subject ÷ each contender, in a table under the suite's main table
   * (targets with another subject are shown there anyway).
   */
  readonly extraRatios?: readonly RatioSpec[];
  readonly chart: ChartSpec;
  readonly timing?: { readonly full?: Partial<Timing>; readonly quick?: Partial<Timing> };
  /**
   * Run each contender in a child process of its own (default true): no shared heap, JIT feedback,
   * timers or module state between contenders. The suite's module must then be listed in
   * src/suites/index.ts (the child finds it there) and `setup`'s state must be cloneable.
   */
  readonly isolate?: boolean;
  /**
   * Extra Node flags for the contenders' child processes (e.g. a fixed young generation so that a
   * measuring window sees no garbage collection). Ignored when `isolate` is false.
   */
  readonly execArgv?: readonly string[];
  /** Runs once before any measurement (start a database, ...). Throw {@link SuiteSkipped} to skip. */
  setup?(options: { quick: boolean }): Promise<SuiteSetup<S>>;
}

/** A suite with its type parameters erased, for the registry. */
// biome-ignore lint/suspicious/noExplicitAny: the registry holds suites of every params/state type
export type AnySuite = Suite<any, any>;

/** Thrown by `setup` when the suite cannot run here (no database, ...): reported, not fatal. */
export class SuiteSkipped extends Error {
  override readonly name = "SuiteSkipped";
}

// -------------------------------------------------------------------------------------------------
// results (bench/results/*.json): self-contained, so the markdown writer can be re-run alone

export interface Environment {
  readonly date: string;
  readonly node: string;
  readonly v8: string;
  readonly cpu: string;
  readonly cores: number;
  readonly os: string;
  readonly memory: string;
  readonly loadAverage: string;
  readonly commit: string;
  /** Suite-specific lines (PostgreSQL version, ...). */
  readonly extra: Readonly<Record<string, string>>;
}

export interface SuiteResult {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly status: "done" | "skipped";
  readonly skipReason?: string;
  readonly quick: boolean;
  readonly timing: Timing;
  /** "process": one child process per contender; "none": all in the runner's process. */
  readonly isolation: "process" | "none";
  readonly environment: Environment;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly metrics: readonly Metric[];
  readonly subject: string;
  readonly cases: readonly { readonly id: string; readonly label: string }[];
  readonly contenders: readonly {
    readonly id: string;
    readonly label: string;
    readonly version?: string;
    readonly note?: string;
    readonly reference?: boolean;
  }[];
  readonly targets: readonly Target[];
  readonly extraRatios?: readonly RatioSpec[];
  readonly chart: ChartSpec;
  /** The suite's extra Node flags for its child processes, if any. */
  readonly execArgv?: readonly string[];
  /** samples[caseId][contenderId][round] */
  readonly samples: Readonly<Record<string, Readonly<Record<string, readonly Sample[]>>>>;
}

export interface ResultsFile {
  readonly version: 1;
  readonly command: string;
  readonly suites: Readonly<Record<string, SuiteResult>>;
}
