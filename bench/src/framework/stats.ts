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

/** The target that applies to (case, versus contender, metric), if any. */
export function targetFor(
  targets: readonly Target[],
  caseId: string,
  versus: string,
  metricKey: string,
  primaryKey: string,
): Target | undefined {
  return targets.find(
    (t) =>
      t.versus === versus &&
      (t.metric ?? primaryKey) === metricKey &&
      (t.cases === undefined || t.cases.includes(caseId)),
  );
}

export function targetMet(target: Target, ratio: number): boolean {
  if (Number.isNaN(ratio)) return false;
  if (target.min !== undefined && ratio < target.min) return false;
  if (target.max !== undefined && ratio > target.max) return false;
  return true;
}

/** Every (case, target) verdict of one suite result. */
export function verdicts(
  result: SuiteResult,
): { caseId: string; target: Target; ratio: Summary; met: boolean }[] {
  const primary = primaryMetric(result).key;
  const out: { caseId: string; target: Target; ratio: Summary; met: boolean }[] = [];
  for (const c of result.cases) {
    const bySubject = result.samples[c.id]?.[result.subject] ?? [];
    for (const target of result.targets) {
      if (target.cases !== undefined && !target.cases.includes(c.id)) continue;
      const other = result.samples[c.id]?.[target.versus] ?? [];
      const ratio = pairedRatios(bySubject, other, target.metric ?? primary);
      out.push({ caseId: c.id, target, ratio, met: targetMet(target, ratio.median) });
    }
  }
  return out;
}
