import type { Metric, Sample, SuiteResult, Target } from "./types.js";

/** Median with min and max of a set of numbers. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median =
    sorted.length % 2 === 1
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return {
    median,
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
    n: sorted.length,
  };
}

export function metricValues(samples: readonly Sample[], key: string): number[] {
  return samples.map((sample) => {
    const value = sample[key];
    if (value === undefined) throw new Error(`sample has no metric "${key}"`);
    return value;
  });
}

/**
 * Ratios subject ÷ other computed pair by pair: round r of the subject against round r of the
 * other, so slow drift of the machine (which hits both in the same round) cancels out. Summarized
 * as median and min–max over the rounds.
 */
export function pairedRatios(
  subject: readonly Sample[],
  other: readonly Sample[],
  key: string,
): Summary {
  const n = Math.min(subject.length, other.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = (subject[i] as Sample)[key];
    const b = (other[i] as Sample)[key];
    if (a !== undefined && b !== undefined && b !== 0) ratios.push(a / b);
  }
  return summarize(ratios);
}

export function primaryMetric(result: Pick<SuiteResult, "metrics">): Metric {
  const metric = result.metrics[0];
  if (metric === undefined) throw new Error("a suite needs at least one metric");
  return metric;
}

export function findMetric(result: Pick<SuiteResult, "metrics">, key: string | undefined): Metric {
  if (key === undefined) return primaryMetric(result);
  const metric = result.metrics.find((m) => m.key === key);
  if (metric === undefined) throw new Error(`unknown metric "${key}"`);
  return metric;
}

/** The contender a target is about: its own `subject`, else the suite's. */
export function targetSubject(result: Pick<SuiteResult, "subject">, target: Target): string {
  return target.subject ?? result.subject;
}

export function targetMet(target: Target, value: number): boolean {
  if (Number.isNaN(value)) return false;
  if (target.min !== undefined && value < target.min) return false;
  if (target.max !== undefined && value > target.max) return false;
  return true;
}

/** One target checked in one case. */
export interface Verdict {
  readonly caseId: string;
  readonly target: Target;
  /** The contender the target is about. */
  readonly subject: string;
  /** Median and min–max of the paired ratios, or of the subject's values for an absolute bound. */
  readonly ratio: Summary;
  /** True for a bound on the subject's own value (no `versus`). */
  readonly absolute: boolean;
  readonly met: boolean;
}

/** Every (case, target) verdict of one suite result. */
export function verdicts(result: SuiteResult): Verdict[] {
  const primary = primaryMetric(result).key;
  const out: Verdict[] = [];
  for (const c of result.cases) {
    for (const target of result.targets) {
      if (target.cases !== undefined && !target.cases.includes(c.id)) continue;
      const subject = targetSubject(result, target);
      const key = target.metric ?? primary;
      const bySubject = result.samples[c.id]?.[subject] ?? [];
      const absolute = target.versus === undefined;
      const ratio = absolute
        ? summarize(metricValues(bySubject, key))
        : pairedRatios(bySubject, result.samples[c.id]?.[target.versus as string] ?? [], key);
      out.push({
        caseId: c.id,
        target,
        subject,
        ratio,
        absolute,
        met: targetMet(target, ratio.median),
      });
    }
  }
  return out;
}
