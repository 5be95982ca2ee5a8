import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { formatMetric, formatRatio } from "./framework/format.js";
import { chartFileName, renderMarkdown } from "./framework/markdown.js";
import { runSuite } from "./framework/runner.js";
import {
  findMetric,
  metricValues,
  pairedRatios,
  primaryMetric,
  summarize,
  verdicts,
} from "./framework/stats.js";
import { renderChart } from "./framework/svg.js";
import type { ResultsFile, SuiteResult, Timing } from "./framework/types.js";
import { suites } from "./suites/index.js";

const usage = `Usage: pnpm bench [options]        (from the repository root)

Runs the benchmark suites, saves the raw results to bench/results/latest.json and writes
docs/benchmarks.md with one SVG chart per suite.

Options:
  --suite <name>     run only this suite (repeatable, or comma-separated); other suites'
                     results already in latest.json are kept in the report
  --quick            smoke run: 3 rounds of 200 ms, 100 ms warm-up (full: 10 rounds of
                     500 ms after a 1 s warm-up, unless the suite says otherwise); results go to
                     bench/results/quick.json and docs/ is left alone (unless --write)
  --write            write docs/ even for a --quick run
  --no-write         do not write docs/ (results JSON is still saved)
  --render           measure nothing: re-write docs/ from bench/results/latest.json
  --rounds <n>       override the number of rounds (a full run needs at least 5)
  --duration <ms>    override the duration of each round
  --warmup <ms>      override the warm-up duration
  --check            exit with status 1 if a target is missed
  --list             list the suites
  -h, --help         this text`;

const benchDir = fileURLToPath(new URL("..", import.meta.url));
const repoDir = path.resolve(benchDir, "..");
const resultsDir = path.join(benchDir, "results");
const docsDir = path.join(repoDir, "docs");
const latestFile = path.join(resultsDir, "latest.json");
const quickFile = path.join(resultsDir, "quick.json");
const order = suites.map((s) => s.name);

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((arg) => arg !== "--"),
    options: {
      suite: { type: "string", multiple: true },
      quick: { type: "boolean", default: false },
      write: { type: "boolean" },
      "no-write": { type: "boolean", default: false },
      render: { type: "boolean", default: false },
      rounds: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      check: { type: "boolean", default: false },
      list: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (values.list) {
    for (const suite of suites) console.log(`${suite.name.padEnd(12)} ${suite.title}`);
    return 0;
  }

  if (values.render) {
    const results = readResults(latestFile);
    if (results === undefined) throw new Error(`nothing to render: ${latestFile} does not exist`);
    writeDocs(results);
    printSummary(Object.values(results.suites));
    return exitCode(Object.values(results.suites), values.check);
  }

  const wanted = (values.suite ?? []).flatMap((s) => s.split(",")).filter((s) => s !== "");
  for (const name of wanted) {
    if (!suites.some((s) => s.name === name)) {
      throw new Error(`unknown suite "${name}"; known: ${order.join(", ")}`);
    }
  }
  const selected = wanted.length === 0 ? suites : suites.filter((s) => wanted.includes(s.name));
  const timing: Partial<Timing> = {
    ...(values.rounds === undefined ? {} : { rounds: positiveInteger("--rounds", values.rounds) }),
    ...(values.duration === undefined
      ? {}
      : { roundMillis: positiveInteger("--duration", values.duration) }),
    ...(values.warmup === undefined
      ? {}
      : { warmupMillis: positiveInteger("--warmup", values.warmup, 0) }),
  };
  if (!values.quick && timing.rounds !== undefined && timing.rounds < 5) {
    throw new Error("a full run needs at least 5 rounds (use --quick for a smoke run)");
  }

  const done: SuiteResult[] = [];
  for (const suite of selected) {
    done.push(await runSuite(suite, { quick: values.quick, timing }));
  }

  const file = values.quick ? quickFile : latestFile;
  const previous = values.quick ? undefined : readResults(latestFile);
  const command = ["pnpm bench", ...process.argv.slice(2).filter((a) => a !== "--")].join(" ");
  const results: ResultsFile = {
    version: 1,
    command,
    suites: {
      ...previous?.suites,
      ...Object.fromEntries(done.map((result) => [result.name, result])),
    },
  };
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.error(`results: ${path.relative(repoDir, file)}`);

  const write = values["no-write"] ? false : (values.write ?? !values.quick);
  if (write) writeDocs(results);
  printSummary(done);
  return exitCode(done, values.check);
}

function readResults(file: string): ResultsFile | undefined {
  if (!existsSync(file)) return undefined;
  const results = JSON.parse(readFileSync(file, "utf8")) as ResultsFile;
  if (results.version !== 1) throw new Error(`${file}: unknown results version`);
  return results;
}

function writeDocs(results: ResultsFile): void {
  mkdirSync(docsDir, { recursive: true });
  for (const result of Object.values(results.suites)) {
    if (result.status !== "done") continue;
    const svg = path.join(docsDir, chartFileName(result.name));
    writeFileSync(svg, renderChart(result));
    console.error(`chart:   ${path.relative(repoDir, svg)}`);
  }
  const markdown = path.join(docsDir, "benchmarks.md");
  writeFileSync(markdown, renderMarkdown(results, order));
  // the writer already emits Biome's layout; this catches whatever a suite's own markdown adds
  const biome = path.join(repoDir, "node_modules", ".bin", "biome");
  if (existsSync(biome)) spawnSync(biome, ["format", "--write", markdown], { stdio: "ignore" });
  console.error(`report:  ${path.relative(repoDir, markdown)}`);
}

/** A plain-text digest on stdout: median primary metric and ratio per contender. */
function printSummary(results: readonly SuiteResult[]): void {
  for (const result of results) {
    if (result.status !== "done") {
      console.log(`\n${result.title}: skipped (${result.skipReason ?? ""})`);
      continue;
    }
    const metric = primaryMetric(result);
    console.log(`\n${result.title}${result.quick ? " [quick]" : ""}`);
    for (const c of result.cases) {
      console.log(`  ${c.label}`);
      const subject = result.samples[c.id]?.[result.subject] ?? [];
      for (const contender of result.contenders) {
        const samples = result.samples[c.id]?.[contender.id] ?? [];
        const s = summarize(metricValues(samples, metric.key));
        const ratio =
          contender.id === result.subject
            ? ""
            : `  ${result.subject} ÷ this ${formatRatio(pairedRatios(subject, samples, metric.key).median)}`;
        console.log(
          `    ${contender.label.padEnd(32)} ${formatMetric(metric, s.median).padStart(9)} ${metric.label}  (${formatMetric(metric, s.min)}–${formatMetric(metric, s.max)})${ratio}`,
        );
      }
    }
    for (const v of verdicts(result)) {
      const measure = v.absolute ? v.subject : `${v.subject} ÷ ${v.target.versus}`;
      const value = v.absolute
        ? formatMetric(findMetric(result, v.target.metric), v.ratio.median)
        : formatRatio(v.ratio.median);
      console.log(
        `  target ${v.caseId} ${measure} ${v.target.label}: ${value} ${v.met ? "met" : "MISSED"}`,
      );
    }
  }
}

function exitCode(results: readonly SuiteResult[], check: boolean): number {
  if (!check) return 0;
  const missed = results
    .flatMap((r) => (r.status === "done" ? verdicts(r) : []))
    .filter((v) => !v.met);
  return missed.length > 0 ? 1 : 0;
}

function positiveInteger(flag: string, text: string, min = 1): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`${flag} needs an integer ≥ ${min}`);
  return value;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 2;
  },
);
