import { formatMetric, formatRatio, withRange } from "./format.js";
import type { Verdict } from "./stats.js";
import {
  findMetric,
  metricValues,
  pairedRatios,
  primaryMetric,
  summarize,
  verdicts,
} from "./stats.js";
import type { Metric, ResultsFile, SuiteResult } from "./types.js";

/** File name of a suite's chart, next to benchmarks.md in docs/. */
export function chartFileName(suiteName: string): string {
  return `benchmarks-${suiteName}.svg`;
}

/** docs/benchmarks.md from a results file, suites in `order` (others after, by name). */
export function renderMarkdown(results: ResultsFile, order: readonly string[]): string {
  const names = Object.keys(results.suites).sort((a, b) => {
    const ia = order.indexOf(a);
    const ib = order.indexOf(b);
    return (ia === -1 ? 1e9 : ia) - (ib === -1 ? 1e9 : ib) || a.localeCompare(b);
  });
  const suites = names.map((name) => results.suites[name] as SuiteResult);
  const out: string[] = [];
  out.push(
    "# Benchmarks",
    "",
    "> **Generated file, do not edit.** Written by `pnpm bench` (the `@lifeguard/bench` package in",
    "> `bench/`, see `bench/README.md`) from its results in `bench/results/latest.json`;",
    "> `pnpm bench --render` re-writes it from that file without measuring again.",
    "",
    "Method, for every suite: each contender is measured once per case to warm up (discarded), then",
    "in alternating rounds (A B C, A B C, …) so that drift of the machine hits every contender alike.",
    "Each cell is the **median over the rounds, with min–max**. Ratios are computed **pair by pair**",
    "(the subject's round _r_ ÷ the other contender's round _r_) and summarised the same way; a target",
    "is met when the median ratio meets it. The machine is shared and noisy: read the ranges, not",
    "only the medians.",
    "",
  );

  const all = suites.flatMap((suite) =>
    suite.status === "done" ? verdicts(suite).map((v) => ({ suite, ...v })) : [],
  );
  if (all.length > 0) {
    const rows = all.map((v) => {
      const caseLabel = v.suite.cases.find((c) => c.id === v.caseId)?.label ?? v.caseId;
      const metric = findMetric(v.suite, v.target.metric);
      return [
        `[${v.suite.title}](#${anchor(v.suite.title)})`,
        caseLabel,
        `${measureLabel(v.suite, v.subject, v.target.versus)}, ${metric.label}`,
        v.target.label,
        v.absolute ? valueCell(metric, v.ratio) : ratioCell(v.ratio),
        v.met ? "✅ yes" : "❌ no",
      ];
    });
    out.push(
      "## Targets",
      "",
      ...table(["Suite", "Case", "Measure", "Target", "Median (min–max)", "Met"], rows),
    );
    out.push("");
  }

  for (const suite of suites) out.push(...renderSuite(suite));
  return `${out.join("\n").trimEnd()}\n`;
}

function renderSuite(suite: SuiteResult): string[] {
  const out: string[] = [`## ${suite.title}`, ""];
  if (suite.status === "skipped") {
    out.push(
      `Skipped on ${suite.startedAt.slice(0, 10)}: ${suite.skipReason ?? "no reason given"}.`,
      "",
    );
    return out;
  }
  if (suite.quick) {
    out.push(
      "> ⚠️ **Quick smoke run** (`--quick`): few, short rounds. These figures show the benchmark works, not how fast anything is.",
      "",
    );
  }
  out.push(suite.description.trim(), "");

  const env = suite.environment;
  const timing = suite.timing;
  out.push(
    `Suite \`${suite.name}\` (\`pnpm bench --suite ${suite.name}\`), run ${env.date.replace("T", " ").slice(0, 16)} UTC. ` +
      `Warm-up ${timing.warmupMillis} ms per contender and case, then ${timing.rounds} alternating rounds of ${timing.roundMillis} ms` +
      (suite.isolation === "process"
        ? "; each contender runs in a child process of its own (no shared heap or JIT state), driven in turn by the runner."
        : ", all contenders in one process."),
    "",
    ...table(
      ["Machine", ""],
      [
        ["Node.js", `${env.node} (V8 ${env.v8})`],
        ["CPU", `${env.cpu}, ${env.cores} cores`],
        ["OS", env.os],
        ["Memory", env.memory],
        ["Load average at start (1/5/15 min)", env.loadAverage],
        ...Object.entries(env.extra),
        ["Lifeguard commit", env.commit],
      ],
    ),
    "",
  );

  const primary = primaryMetric(suite);
  const subject = contenderLabel(suite, suite.subject);
  const header = [
    "Case",
    "Contender",
    ...suite.metrics.map((m) => `${m.label}, median (min–max)`),
    `${subject} ÷ contender (${primary.label}), median (min–max)`,
    "Target",
    "Met",
  ];
  const all = verdicts(suite);
  const rows: string[][] = [];
  for (const c of suite.cases) {
    const bySubject = suite.samples[c.id]?.[suite.subject] ?? [];
    for (const contender of suite.contenders) {
      const samples = suite.samples[c.id]?.[contender.id] ?? [];
      const cells = suite.metrics.map((metric) => {
        const s = summarize(metricValues(samples, metric.key));
        return withRange(
          formatMetric(metric, s.median),
          formatMetric(metric, s.min),
          formatMetric(metric, s.max),
        );
      });
      const isSubject = contender.id === suite.subject;
      const ratio = isSubject ? "—" : ratioCell(pairedRatios(bySubject, samples, primary.key));
      // the subject's own row carries a bound on its own value (≤ 6 KB), the others the ratio's
      const [target, met] = targetCells(
        all,
        c.id,
        suite.subject,
        isSubject ? undefined : contender.id,
        primary.key,
        primary.key,
      );
      const name =
        contender.id === suite.subject
          ? `**${contender.label}**`
          : contender.label + (contender.reference === true ? " (reference)" : "");
      rows.push([c.label, name, ...cells, ratio, target, met]);
    }
  }
  out.push(...table(header, rows), "");
  out.push(...otherRatios(suite, all));
  out.push(`![${suite.chart.title}](${chartFileName(suite.name)})`, "");

  const notes = suite.contenders.filter((c) => c.note !== undefined || c.version !== undefined);
  if (notes.length > 0) {
    out.push("Contenders:", "");
    for (const c of notes) {
      const version = c.version === undefined ? "" : ` ${c.version}`;
      out.push(`- **${c.label}**${version}${c.note === undefined ? "" : `: ${c.note}`}`);
    }
    out.push("");
  }
  return out;
}

/**
 * Ratios the main table has no column for: the suite's `extraRatios` (a second configuration ÷
 * another contender) and every target not shown there (another subject, another metric), each in
 * every case, with its target where one applies.
 */
function otherRatios(suite: SuiteResult, all: readonly Verdict[]): string[] {
  const primary = primaryMetric(suite);
  const shown = (v: Verdict) =>
    v.subject === suite.subject && (v.target.metric ?? primary.key) === primary.key;
  const pairs: { subject: string; versus: string | undefined; metric: string }[] = [];
  const add = (subject: string, versus: string | undefined, metric: string) => {
    if (!pairs.some((p) => p.subject === subject && p.versus === versus && p.metric === metric))
      pairs.push({ subject, versus, metric });
  };
  for (const r of suite.extraRatios ?? []) add(r.subject, r.versus, r.metric ?? primary.key);
  for (const v of all)
    if (!shown(v)) add(v.subject, v.target.versus, v.target.metric ?? primary.key);
  if (pairs.length === 0) return [];
  const rows: string[][] = [];
  for (const pair of pairs) {
    const metric = findMetric(suite, pair.metric);
    for (const c of suite.cases) {
      const subject = suite.samples[c.id]?.[pair.subject] ?? [];
      const value =
        pair.versus === undefined
          ? valueCell(metric, summarize(metricValues(subject, metric.key)))
          : ratioCell(pairedRatios(subject, suite.samples[c.id]?.[pair.versus] ?? [], metric.key));
      const [target, met] = targetCells(
        all,
        c.id,
        pair.subject,
        pair.versus,
        pair.metric,
        primary.key,
      );
      rows.push([
        c.label,
        `${measureLabel(suite, pair.subject, pair.versus)}, ${metric.label}`,
        value,
        target,
        met,
      ]);
    }
  }
  return [...table(["Case", "Measure", "Median (min–max)", "Target", "Met"], rows), ""];
}

/**
 * The Target and Met cells for one measure in one case: every target that applies (a target and
 * its stretch goal, say), joined; "—" when none does.
 */
function targetCells(
  all: readonly Verdict[],
  caseId: string,
  subject: string,
  versus: string | undefined,
  metricKey: string,
  primaryKey: string,
): [string, string] {
  const matching = all.filter(
    (v) =>
      v.caseId === caseId &&
      v.subject === subject &&
      v.target.versus === versus &&
      (v.target.metric ?? primaryKey) === metricKey,
  );
  if (matching.length === 0) return ["—", "—"];
  const yesNo = (v: Verdict) => (v.met ? "✅ yes" : "❌ no");
  return [
    matching.map((v) => v.target.label).join("; "),
    matching.length === 1
      ? yesNo(matching[0] as Verdict)
      : matching.map((v) => `${yesNo(v)} (${v.target.label})`).join("; "),
  ];
}

/** "Lifeguard ÷ pg.Pool", or "Lifeguard" for a bound on its own value. */
function measureLabel(suite: SuiteResult, subject: string, versus: string | undefined): string {
  const who = contenderLabel(suite, subject);
  return versus === undefined ? who : `${who} ÷ ${contenderLabel(suite, versus)}`;
}

function valueCell(metric: Metric, value: { median: number; min: number; max: number }): string {
  return withRange(
    formatMetric(metric, value.median),
    formatMetric(metric, value.min),
    formatMetric(metric, value.max),
  );
}

function ratioCell(ratio: { median: number; min: number; max: number }): string {
  return withRange(formatRatio(ratio.median), formatRatio(ratio.min), formatRatio(ratio.max));
}

function contenderLabel(suite: SuiteResult, id: string): string {
  return suite.contenders.find((c) => c.id === id)?.label ?? id;
}

/**
 * A markdown table with padded columns, in the layout Biome's markdown formatter produces, so the
 * generated file passes `pnpm lint` as written.
 */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) =>
    Math.max(3, displayWidth(h), ...rows.map((r) => displayWidth(r[i] ?? ""))),
  );
  const line = (cells: readonly string[]) =>
    `| ${widths.map((w, i) => pad(cells[i] ?? "", w)).join(" | ")} |`;
  return [line(header), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...rows.map(line)];
}

function pad(text: string, width: number): string {
  return text + " ".repeat(Math.max(0, width - displayWidth(text)));
}

/** Terminal-style width: emoji shown as emoji take two columns, combining marks none. */
function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) {
    if (/\p{Emoji_Presentation}/u.test(char)) width += 2;
    else if (/\p{Mn}|\u{FE0F}|\u{200D}/u.test(char)) width += 0;
    else width += 1;
  }
  return width;
}

/** GitHub's heading anchor. */
function anchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]/gu, "")
    .trim()
    .replace(/\s/g, "-");
}
