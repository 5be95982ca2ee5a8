import type { Metric } from "./types.js";

const prefixes = [
  { factor: 1e9, symbol: "G" },
  { factor: 1e6, symbol: "M" },
  { factor: 1e3, symbol: "k" },
] as const;

/** Three significant digits with an SI prefix: 2 412 345 → "2.41 M". */
export function formatSi(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  for (const { factor, symbol } of prefixes) {
    if (abs >= factor) return `${significant(value / factor)} ${symbol}`;
  }
  return significant(value);
}

function significant(value: number): string {
  const abs = Math.abs(value);
  const decimals = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return value.toFixed(decimals);
}

export function formatMetric(metric: Metric, value: number): string {
  if (Number.isNaN(value)) return "n/a";
  const number = metric.format === "si" ? formatSi(value) : value.toFixed(metric.decimals ?? 0);
  return `${number}${metric.unit ?? ""}`;
}

export function formatRatio(value: number): string {
  if (Number.isNaN(value)) return "n/a";
  return `${value.toFixed(value >= 10 ? 1 : 2)}×`;
}

/** "1.23 (1.10–1.40)" */
export function withRange(median: string, min: string, max: string): string {
  return `${median} (${min}–${max})`;
}
