import { formatMetric, formatSi } from "./format.js";
import { findMetric, metricValues, summarize } from "./stats.js";
import type { SuiteResult } from "./types.js";

const palette = ["#2563eb", "#ea580c", "#059669", "#9333ea", "#dc2626", "#0891b2", "#ca8a04"];
const referenceColor = "#94a3b8";

/**
 * The suite's chart, by hand (no chart library): one group of bars per case, one bar per
 * contender at its median, a whisker from min to max over the rounds, the value above it.
 */
export function renderChart(result: SuiteResult): string {
  const metric = findMetric(result, result.chart.metric);
  // a floor or ceiling far from the pools would squash every other bar: it stays in the table
  const contenders = result.contenders.filter(
    (c) => c.reference !== true || result.chart.includeReferences === true,
  );
  const groups = result.cases.map((c) => ({
    label: c.label,
    bars: contenders.map((contender) =>
      summarize(metricValues(result.samples[c.id]?.[contender.id] ?? [], metric.key)),
    ),
  }));

  const width = 760;
  const height = 420;
  const margin = { left: 72, right: 16, top: 78, bottom: 44 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const highest = Math.max(
    0,
    ...groups.flatMap((g) => g.bars.map((b) => (Number.isNaN(b.max) ? 0 : b.max))),
  );
  const { top, step } = niceScale(highest);
  const y = (value: number) => margin.top + plotHeight - (value / top) * plotHeight;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(result.chart.title)}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif">`,
    `<title>${escapeXml(result.chart.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="600" fill="#0f172a">${escapeXml(result.chart.title)}</text>`,
  );

  // legend, centred on one line
  const items = contenders.map((c) => ({
    text: c.label + (c.reference === true ? " (reference)" : ""),
    color: colorOf(result, c.id),
  }));
  const itemWidths = items.map((item) => 18 + item.text.length * 6.4 + 16);
  let x = (width - itemWidths.reduce((a, b) => a + b, 0)) / 2;
  items.forEach((item, i) => {
    out.push(
      `<rect x="${fix(x)}" y="40" width="12" height="12" rx="2" fill="${item.color}"/>`,
      `<text x="${fix(x + 18)}" y="50.5" font-size="12" fill="#334155">${escapeXml(item.text)}</text>`,
    );
    x += itemWidths[i] as number;
  });

  // axis and grid
  for (let value = 0; value <= top + step / 2; value += step) {
    const gy = fix(y(value));
    out.push(
      `<line x1="${margin.left}" x2="${width - margin.right}" y1="${gy}" y2="${gy}" stroke="${value === 0 ? "#475569" : "#e2e8f0"}" stroke-width="1"/>`,
      `<text x="${margin.left - 8}" y="${fix(y(value) + 4)}" text-anchor="end" font-size="11" fill="#475569">${escapeXml(formatTick(value))}</text>`,
    );
  }
  out.push(
    `<text transform="translate(16 ${margin.top + plotHeight / 2}) rotate(-90)" text-anchor="middle" font-size="12" fill="#334155">${escapeXml(`${metric.label}${metric.better === "higher" ? " (higher is better)" : " (lower is better)"}`)}</text>`,
  );

  // bars
  const groupWidth = plotWidth / Math.max(1, groups.length);
  const barWidth = (groupWidth * 0.8) / Math.max(1, contenders.length);
  const valueFont = Math.max(8, Math.min(11, barWidth / 4.2));
  groups.forEach((group, g) => {
    const groupLeft = margin.left + g * groupWidth + groupWidth * 0.1;
    group.bars.forEach((bar, i) => {
      if (Number.isNaN(bar.median)) return;
      const bx = groupLeft + i * barWidth;
      const cx = bx + barWidth / 2;
      out.push(
        `<rect x="${fix(bx + 2)}" y="${fix(y(bar.median))}" width="${fix(barWidth - 4)}" height="${fix(y(0) - y(bar.median))}" fill="${colorOf(result, contenders[i]?.id ?? "")}"><title>${escapeXml(`${contenders[i]?.label} · ${group.label}: median ${formatMetric(metric, bar.median)} (min ${formatMetric(metric, bar.min)}, max ${formatMetric(metric, bar.max)}, ${bar.n} rounds)`)}</title></rect>`,
        `<line x1="${fix(cx)}" x2="${fix(cx)}" y1="${fix(y(bar.min))}" y2="${fix(y(bar.max))}" stroke="#0f172a" stroke-width="1.2"/>`,
        `<line x1="${fix(cx - 4)}" x2="${fix(cx + 4)}" y1="${fix(y(bar.max))}" y2="${fix(y(bar.max))}" stroke="#0f172a" stroke-width="1.2"/>`,
        `<line x1="${fix(cx - 4)}" x2="${fix(cx + 4)}" y1="${fix(y(bar.min))}" y2="${fix(y(bar.min))}" stroke="#0f172a" stroke-width="1.2"/>`,
        `<text x="${fix(cx)}" y="${fix(y(bar.max) - 5)}" text-anchor="middle" font-size="${fix(valueFont)}" fill="#0f172a">${escapeXml(formatSi(bar.median))}</text>`,
      );
    });
    out.push(
      `<text x="${fix(margin.left + g * groupWidth + groupWidth / 2)}" y="${height - margin.bottom + 22}" text-anchor="middle" font-size="13" fill="#0f172a">${escapeXml(group.label)}</text>`,
    );
  });
  out.push(
    `<text x="${width - margin.right}" y="${height - 8}" text-anchor="end" font-size="10" fill="#64748b">${escapeXml(`bars: median of ${result.timing.rounds} rounds; whiskers: min–max · ${result.environment.date.slice(0, 10)} · Node ${result.environment.node}`)}</text>`,
    "</svg>",
  );
  return `${out.join("\n")}\n`;
}

function colorOf(result: SuiteResult, id: string): string {
  let colorIndex = 0;
  for (const contender of result.contenders) {
    if (contender.id === id)
      return contender.reference === true
        ? referenceColor
        : (palette[colorIndex % palette.length] as string);
    if (contender.reference !== true) colorIndex++;
  }
  return referenceColor;
}

/** Axis labels: "0", "500 k", "1.5 M" (no trailing zeros). */
function formatTick(value: number): string {
  if (value === 0) return "0";
  return formatSi(value)
    .replace(/\.0+(?= |$)/, "")
    .replace(/(\.\d*?)0+(?= |$)/, "$1");
}

/** A round axis top and tick step covering `max` with about five ticks. */
function niceScale(max: number): { top: number; step: number } {
  if (max <= 0) return { top: 1, step: 0.2 };
  const rough = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * magnitude >= rough) ?? 10) * magnitude;
  return { top: Math.ceil((max * 1.08) / step) * step, step };
}

function fix(value: number): string {
  return String(Math.round(value * 10) / 10);
}

function escapeXml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}
